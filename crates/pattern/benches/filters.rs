//! Criterion benches for the pattern engine: compiling the CIS pack, and evaluating it on
//! realistic CloudTrail records.
//!
//! The evaluation cases show where the time goes:
//! * `prefilter_miss` — a typical read-only call no CIS filter can match: decided on raw bytes.
//! * `prefilter_hit` — a failed console sign-in: the prefilter lets it through, so it is parsed.
//! * `escaped_miss` — the miss record with a `\u` escape, which switches the prefilter off.
//! * `parse_always` — the miss record with `always_parse` (validate everything): the baseline the
//!   prefilter is measured against in the same run.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

/// A typical read-only EC2 call by an assumed role (about 1.6 KB, like the CloudTrail median).
const MISS: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:i-0d5f2f1c1f2e3d4c5","arn":"arn:aws:sts::123456789012:assumed-role/ec2-inventory-role/i-0d5f2f1c1f2e3d4c5","accountId":"123456789012","accessKeyId":"ASIAQGF2UZ7MEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAIDPPEZS35WEXAMPLE","arn":"arn:aws:iam::123456789012:role/ec2-inventory-role","accountId":"123456789012","userName":"ec2-inventory-role"},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-30T23:41:07Z","mfaAuthenticated":"false"},"ec2RoleDelivery":"2.0"}},"eventTime":"2026-12-01T00:02:51Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","sourceIPAddress":"10.12.4.87","userAgent":"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.171.0","requestParameters":{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}},{"name":"tag:team","valueSet":{"items":[{"value":"payments"}]}}]},"maxResults":1000},"responseElements":null,"requestID":"7d6a58ae-2f4b-4a8c-9c0e-5b1f3e7a9d21","eventID":"c1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e5f6","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}}"#;

/// A failed console sign-in (matches the sign-in failure filter).
const HIT: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"123456789012","accessKeyId":"","userName":"alice"},"eventTime":"2026-12-01T00:04:12Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.77","userAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","errorMessage":"Failed authentication","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_c3bb8d8f4b2c1a0e","MobileVersion":"No","MFAUsed":"No"},"eventID":"3fcfb582-6e2b-4c77-8b3c-0f2e5a6d7c81","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"signin.aws.amazon.com"}}"#;

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

fn compile(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/filters/cis-aws-foundations.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("CIS pack")).expect("JSON");
    let patterns: Vec<(String, String)> = doc["metricFilters"]
        .as_array()
        .expect("metricFilters")
        .iter()
        .map(|f| {
            (
                f["filterName"].as_str().unwrap_or_default().to_owned(),
                f["filterPattern"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let mut g = c.benchmark_group("pattern/compile");
    g.throughput(Throughput::Elements(patterns.len() as u64));
    g.bench_function("cis_pack", |b| {
        b.iter(|| {
            let filters: Vec<Filter> = patterns
                .iter()
                .map(|(n, p)| Filter::compile(n, p, &MetricSpec::default()).expect("compiles"))
                .collect();
            black_box(FilterSet::new(filters))
        })
    });
    g.finish();
}

fn evaluate(c: &mut Criterion) {
    let set = FilterSet::new(cis_pack());
    let escaped = MISS.replace("md/GOOS#linux", "md/GOOS\\u0023linux");
    let cases: [(&str, &str, EvalOptions); 4] = [
        ("prefilter_miss", MISS, EvalOptions::default()),
        ("prefilter_hit", HIT, EvalOptions::default()),
        ("escaped_miss", &escaped, EvalOptions::default()),
        (
            "parse_always",
            MISS,
            EvalOptions {
                always_parse: true,
                explain: false,
            },
        ),
    ];
    let mut g = c.benchmark_group("pattern/evaluate/cis_pack");
    for (name, record, opts) in cases {
        g.throughput(Throughput::Bytes(record.len() as u64));
        let mut ev = Evaluator::new();
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || (),
                |_| {
                    black_box(
                        ev.evaluate(&set, black_box(record.as_bytes()), opts)
                            .matched(5),
                    )
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, compile, evaluate);
criterion_main!(benches);
