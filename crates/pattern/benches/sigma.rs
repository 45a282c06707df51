//! Criterion bench: the 58 SigmaHQ CloudTrail rules plus the CIS pack, as one filter set, on the
//! generated CloudTrail mix (`benches/gen_cloudtrail.py`, seed 1), against the CIS pack alone and
//! against parsing every record, in the same run.
//!
//! The rules are read from `TRAILWATCH_SIGMA_CORPUS` (a folder of `.yml` rules; they are not this
//! project's to ship); without it the bench prints that it is skipped. The mix is
//! `TRAILWATCH_BENCH_NDJSON` when set, else 20,000 records generated with python3.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailwatch_pattern::sigma::{SigmaOptions, SigmaRule};
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

fn cis_pack() -> Vec<Filter> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/filters/cis-aws-foundations.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("CIS pack")).expect("JSON");
    doc["metricFilters"]
        .as_array()
        .expect("metricFilters")
        .iter()
        .map(|f| {
            Filter::compile(
                f["filterName"].as_str().expect("name"),
                f["filterPattern"].as_str().expect("pattern"),
                &MetricSpec::default(),
            )
            .expect("CIS pattern compiles")
        })
        .collect()
}

/// The rule that matches every call made with an assumed role (most of the mix), which every
/// exact engine must confirm on each of those records.
const ASSUMED_ROLE_RULE: &str = "aws_sts_assumerole_misuse.yml";

fn sigma_rules(dir: &Path, skip: Option<&str>) -> Vec<Filter> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .filter(|p| skip.is_none_or(|s| !p.ends_with(s)))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("rule");
            SigmaRule::parse(&text, &SigmaOptions::default())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
                .filter()
        })
        .collect()
}

fn mix() -> Vec<u8> {
    if let Some(path) = std::env::var_os("TRAILWATCH_BENCH_NDJSON") {
        return std::fs::read(path).expect("TRAILWATCH_BENCH_NDJSON");
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../benches/gen_cloudtrail.py"
    );
    let out = std::process::Command::new("python3")
        .args([script, "--count", "20000", "--seed", "1"])
        .output()
        .expect("python3 runs benches/gen_cloudtrail.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn evaluate(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("TRAILWATCH_SIGMA_CORPUS") else {
        println!(
            "skipped: set TRAILWATCH_SIGMA_CORPUS to the folder of the SigmaHQ CloudTrail rules"
        );
        return;
    };
    let dir = PathBuf::from(dir);
    let dir = if dir.is_relative() {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(dir)
    } else {
        dir
    };
    let sigma = sigma_rules(&dir, None);
    assert_eq!(sigma.len(), 58, "the 58 SigmaHQ CloudTrail rules");
    let sigma_57 = sigma_rules(&dir, Some(ASSUMED_ROLE_RULE));
    assert_eq!(sigma_57.len(), 57);
    let data = mix();
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let cis = FilterSet::new(cis_pack());
    let both = FilterSet::new(
        cis_pack()
            .into_iter()
            .chain(sigma.iter().cloned())
            .collect(),
    );
    let sigma_only = FilterSet::new(sigma);
    let both_57 = FilterSet::new(cis_pack().into_iter().chain(sigma_57).collect());
    let parse_all = EvalOptions {
        always_parse: true,
        explain: false,
    };
    let mut g = c.benchmark_group("pattern/evaluate/mix");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(data.len() as u64));
    let cases: [(&str, &FilterSet, EvalOptions); 5] = [
        ("cis_pack", &cis, EvalOptions::default()),
        ("sigma_58", &sigma_only, EvalOptions::default()),
        ("cis_pack_and_sigma_58", &both, EvalOptions::default()),
        ("cis_pack_and_sigma_58_parse_always", &both, parse_all),
        (
            "cis_pack_and_sigma_57_without_assumed_role_rule",
            &both_57,
            EvalOptions::default(),
        ),
    ];
    for (name, set, opts) in cases {
        let mut ev = Evaluator::new();
        // Matches, so the work cannot be optimised away and the cases can be compared.
        let mut matches = 0usize;
        for line in &lines {
            matches += ev.evaluate(set, line, opts).matches().count();
        }
        println!("{name}: {} records, {matches} matches", lines.len());
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut n = 0usize;
                for line in &lines {
                    n += ev.evaluate(set, black_box(line), opts).matches().count();
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
