//! The hot path allocates nothing: after warm-up, evaluating the CIS pack on realistic records
//! (prefilter misses, parsed hits, escaped records, text lines) performs no heap allocation.
//! Its own test binary, because it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use trailwatch_pattern::{EvalOptions, Evaluator, Filter, FilterSet, MetricSpec};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarding to the system allocator with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn cis_pack() -> FilterSet {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../configs/filters/cis-aws-foundations.json"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut filters: Vec<Filter> = doc["metricFilters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            Filter::compile(
                f["filterName"].as_str().unwrap(),
                f["filterPattern"].as_str().unwrap(),
                &MetricSpec::default(),
            )
            .unwrap()
        })
        .collect();
    // And filters that publish values and dimensions.
    let spec = MetricSpec {
        value: "$.responseElements.bytes".into(),
        default_value: None,
        dimensions: vec![("user".into(), "$.userIdentity.userName".into())],
        unit: None,
    };
    filters.push(Filter::compile("with_dims", "{ $.eventName = ConsoleLogin }", &spec).unwrap());
    filters.push(Filter::compile("terms", "ERROR -DEBUG", &MetricSpec::default()).unwrap());
    filters.push(
        Filter::compile(
            "delimited",
            "[ip, user, ..., status = 4*, bytes]",
            &MetricSpec::default(),
        )
        .unwrap(),
    );
    FilterSet::new(filters)
}

#[test]
fn evaluating_allocates_nothing_after_warm_up() {
    let set = cis_pack();
    let records = [
        r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"sessionIssuer":{"type":"Role"}}},"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","requestParameters":{"filterSet":{"items":[{"name":"a"}]}},"resources":[{"type":"AWS::EC2::Instance"}],"eventType":"AwsApiCall"}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"alice"},"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure","bytes":12},"additionalEventData":{"MFAUsed":"No"},"eventType":"AwsConsoleSignIn"}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root"},"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","errorCode":"AccessDenied","eventType":"AwsApiCall"}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser"},"eventName":"Stop\u004cogging","eventSource":"cloudtrail.amazonaws.com","requestParameters":{"policy":"{\"a\":\"b\"}"}}"#,
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534"#,
        "ERROR something went wrong",
        r#"{"broken": "#,
    ];
    let mut ev = Evaluator::new();
    let run = |ev: &mut Evaluator| {
        let mut matched = 0;
        for _ in 0..200 {
            for r in &records {
                for opts in [
                    EvalOptions::default(),
                    EvalOptions {
                        always_parse: true,
                        explain: false,
                    },
                ] {
                    let out = ev.evaluate(&set, r.as_bytes(), opts);
                    matched += out.matches().count();
                    for id in 0..set.len() {
                        let _ = out.value(id);
                        matched += out.dimensions(id).count();
                    }
                }
            }
        }
        matched
    };
    let warm = run(&mut ev);
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    let counted = run(&mut ev);
    COUNTING.store(false, Ordering::Relaxed);
    assert_eq!(warm, counted);
    assert!(
        counted > 1000,
        "the records exercise the filters ({counted} matches)"
    );
    assert_eq!(
        ALLOCATIONS.load(Ordering::Relaxed),
        0,
        "allocations on the hot path"
    );
}
