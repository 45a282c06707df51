//! The configs `docker-compose.yml` mounts are checked here (Docker cannot run in CI): promtool
//! checks the Prometheus config and rules and runs the alarm unit tests, trailwatch validates its
//! own config, and every metric the dashboard and the rules query is one trailwatch exposes.

use std::collections::BTreeSet;
use std::path::Path;

use crate::harness::*;

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn prometheus_config_rules_and_alarm_unit_tests() {
    promtool(&[
        "check",
        "config",
        repo("configs/prometheus/prometheus.yml").to_str().unwrap(),
    ]);
    promtool(&[
        "check",
        "rules",
        repo("configs/prometheus/rules.yml").to_str().unwrap(),
    ]);
    promtool(&[
        "test",
        "rules",
        repo("configs/prometheus/rules.test.yml").to_str().unwrap(),
    ]);
}

#[test]
fn the_stack_trailwatch_config_validates() {
    let (status, out, err) = run_to_end(
        &[
            "validate",
            "--config",
            repo("configs/trailwatch/trailwatch.toml").to_str().unwrap(),
        ],
        b"",
    );
    assert!(status.success(), "{out}{err}");
}

#[test]
fn compose_mounts_exist() {
    let compose = read(&repo("docker-compose.yml"));
    let mut mounts = 0;
    for line in compose.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("- ./") {
            let source = rest.split(':').next().unwrap();
            assert!(
                repo(source).exists(),
                "docker-compose.yml mounts ./{source}, which does not exist"
            );
            mounts += 1;
        }
    }
    assert!(mounts >= 6, "found only {mounts} bind mounts");
    assert!(repo("Dockerfile").exists());
}

/// Metric names in a PromQL expression (identifiers followed by `{`, `[` or `)`).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() || b[i] == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let next = b.get(i).copied();
            if (word.starts_with("trailwatch_") || word.starts_with("cis_benchmark_"))
                && matches!(next, Some(b'{' | b'[' | b')' | b' ') | None)
            {
                names.push(word.to_owned());
            }
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn dashboard_and_rules_query_metrics_trailwatch_exposes() {
    // Trail health on, and one CloudTrail event in, so its families exist.
    let dir = TempDir::new("exposed");
    let config = dir.path("t.toml");
    std::fs::write(&config, "builtin_filters = true\n[trail_health]\n").unwrap();
    let svc = Service::start(&[
        "--config",
        config.to_str().unwrap(),
        "--tcp",
        "127.0.0.1:0",
        "--forward",
        "file:/dev/null",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let mut conn = std::net::TcpStream::connect(svc.tcp[0]).unwrap();
    std::io::Write::write_all(&mut conn, &ndjson(&[routine()])).unwrap();
    drop(conn);
    svc.wait_for(
        "trailwatch_trail_events_total",
        &[("account", "123456789012"), ("region", "eu-west-1")],
        1.0,
    );
    let exposed: BTreeSet<String> = svc
        .scrape()
        .samples
        .keys()
        .map(|k| {
            let name = k.split('{').next().unwrap();
            name.trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count")
                .to_owned()
        })
        .collect();
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&repo("configs/grafana/dashboards/trailwatch.json"))).unwrap();
    assert_eq!(dashboard["uid"], "trailwatch-cis");
    let datasources = read(&repo(
        "configs/grafana/provisioning/datasources/datasources.yml",
    ));
    let mut exprs = Vec::new();
    for p in dashboard["panels"].as_array().unwrap() {
        // The alert list shows Grafana's own alert rules: no datasource.
        let Some(uid) = p["datasource"]["uid"].as_str() else {
            assert_eq!(p["type"], "alertlist", "{}", p["title"]);
            continue;
        };
        assert!(
            datasources.contains(&format!("uid: {uid}")),
            "panel {} uses datasource {uid}, which is not provisioned",
            p["title"]
        );
        for t in p["targets"].as_array().unwrap() {
            if p["datasource"]["uid"] == "prometheus" {
                exprs.push(t["expr"].as_str().unwrap().to_owned());
            }
        }
    }
    let rules = read(&repo("configs/prometheus/rules.yml"));
    // Generated rules put each expression on the line after `expr: |-`.
    let lines: Vec<&str> = rules.lines().collect();
    exprs.extend(
        lines
            .windows(2)
            .filter(|w| w[0].trim() == "expr: |-")
            .map(|w| w[1].trim().to_owned()),
    );
    let mut checked = 0;
    for e in &exprs {
        for name in metric_names(e) {
            let name = name.trim_end_matches("_bucket").to_owned();
            assert!(
                exposed.contains(&name),
                "`{e}` queries {name}, which trailwatch does not expose"
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} metric references checked");
    // The dashboard's regex over the CIS families matches what the pack produces.
    assert_eq!(
        exposed
            .iter()
            .filter(|n| n.starts_with("cis_benchmark_"))
            .count(),
        15
    );
}

/// The `[OUTPUT]` section of a classic Fluent Bit config: lower-cased keys → values.
fn classic_output(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut in_output = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_output = line.eq_ignore_ascii_case("[OUTPUT]");
        } else if in_output && !line.is_empty() && !line.starts_with('#') {
            let (k, v) = line.split_once(char::is_whitespace).expect("key value");
            out.insert(k.to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    out
}

/// The first output of a YAML Fluent Bit config, as strings.
fn yaml_output(text: &str) -> std::collections::BTreeMap<String, String> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(text).expect("YAML");
    let output = &docs[0]["pipeline"]["outputs"][0];
    let Yaml::Hash(map) = output else {
        panic!("no pipeline.outputs[0]")
    };
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => if *b { "true" } else { "false" }.to_owned(),
                other => panic!("unexpected value {other:?}"),
            };
            (k.as_str().expect("key").to_owned(), v)
        })
        .collect()
}

#[test]
fn fluent_bit_configs_use_what_trailwatch_accepts() {
    let on = |v: &str| matches!(v.to_ascii_lowercase().as_str(), "on" | "true");
    for (classic, yaml) in [
        (
            "configs/fluent-bit/http.conf",
            "configs/fluent-bit/http.yaml",
        ),
        (
            "configs/fluent-bit/forward.conf",
            "configs/fluent-bit/forward.yaml",
        ),
    ] {
        let c = classic_output(&read(&repo(classic)));
        let y = yaml_output(&read(&repo(yaml)));
        // The two spellings say the same thing.
        for (k, v) in &c {
            let other = y.get(k).unwrap_or_else(|| panic!("{yaml} has no {k}"));
            assert!(
                v.eq_ignore_ascii_case(other) || on(v) == on(other) && (on(v) || v == "False"),
                "{classic} {k}={v} but {yaml} {k}={other}"
            );
        }
        assert_eq!(c.len(), y.len(), "{classic} and {yaml} set the same keys");
        match c["name"].as_str() {
            "http" => {
                // The format and compression of the json_lines+gzip capture that the replay
                // test shows decoding exactly, on trailwatch's default HTTP port.
                assert_eq!(c["format"], "json_lines");
                assert_eq!(c["compress"], "gzip");
                assert_eq!(c["port"], "9880");
            }
            "forward" => {
                assert!(on(&c["require_ack_response"]), "acks give at-least-once");
                assert_eq!(c["compress"], "gzip");
                assert_eq!(c["port"], "24224");
            }
            other => panic!("unexpected output {other}"),
        }
    }
}

#[test]
fn the_readme_configuration_example_validates() {
    let readme = read(&repo("README.md"));
    let start = readme
        .find("# trailwatch.toml — every value")
        .expect("the README's configuration example");
    let end = start + readme[start..].find("```").expect("its end");
    let dir = TempDir::new("readme-config");
    std::fs::write(dir.path("trailwatch.toml"), &readme[start..end]).unwrap();
    std::fs::write(dir.path("filters.json"), r#"{"metricFilters": []}"#).unwrap();
    let out = std::process::Command::new(bin())
        .args(["validate", "--config", "trailwatch.toml"])
        .current_dir(&dir.0)
        .env("TRAILWATCH_HTTP_TOKEN", "t")
        .output()
        .expect("run validate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
