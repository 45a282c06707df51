//! No per-event allocation in the service's hot path: a worker that decodes and evaluates a
//! batch of 10,000 events allocates no more than for a batch of 100 (what it allocates is per
//! batch), and so does one that also enriches and forwards them. Its own test binary, because
//! it installs a counting global allocator (counting the calling thread only, so a sink's
//! delivery task running meanwhile is not counted against the worker).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use trailwatch::config::{BUILTIN_FILTERS, FilterPlan, SourceFile, aws};
use trailwatch::event::{Batch, SourceKind};
use trailwatch::metrics::{Store, Telemetry};
use trailwatch::sink::enrich::Enricher;
use trailwatch::sink::{Sinks, parse_forward};
use trailwatch::worker::{Forward, Worker, WorkerSettings};

struct Counting;

thread_local! {
    // Const-initialised: reading them never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

/// Allocations made by this thread while running `f`.
fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        // SAFETY: forwarding to the system allocator with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        note_allocation();
        // SAFETY: as for `alloc`.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn batch(n: usize) -> Batch {
    let kinds = [
        r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s"},"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","eventType":"AwsApiCall"}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","userName":"alice"},"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","errorMessage":"Failed authentication","responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"}}"#,
        r#"{"eventVersion":"1.08","userIdentity":{"type":"Root"},"eventSource":"iam.amazonaws.com","eventName":"PutUserPolicy","errorCode":"AccessDenied","eventType":"AwsApiCall"}"#,
        "plain text line",
    ];
    let mut data = Vec::new();
    for i in 0..n {
        data.extend_from_slice(kinds[i % kinds.len()].as_bytes());
        data.push(b'\n');
    }
    Batch::lines(SourceKind::Stdin, Bytes::from(data))
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        max_event_bytes: 1 << 20,
        event_fields: vec!["message".into(), "log".into()],
        always_parse: false,
    }
}

fn store() -> Arc<Store> {
    let file = Arc::new(SourceFile {
        path: "builtin".into(),
        text: BUILTIN_FILTERS.to_owned(),
    });
    let plan = FilterPlan::compile(&aws::load(&file).unwrap()).unwrap();
    Arc::new(Store::new(plan, 1000))
}

#[test]
fn a_worker_allocates_per_batch_not_per_event() {
    let telemetry = Arc::new(Telemetry::new());
    let mut worker = Worker::new(settings(), telemetry.clone(), store(), None, None);
    let (small, large) = (batch(100), batch(10_000));
    worker.process(&large);
    worker.process(&small);
    let per_small = allocations_during(|| worker.process(&small));
    let per_large = allocations_during(|| worker.process(&large));
    eprintln!("allocations per batch: 100 events {per_small}, 10,000 events {per_large}");
    assert!(
        per_large <= per_small,
        "10,000 events allocated {per_large} times, 100 events {per_small}"
    );
    assert!(per_small < 64, "{per_small} allocations for one batch");
    assert!(telemetry.events_evaluated.get() > 20_000);
}

#[test]
fn forwarding_allocates_per_batch_and_reuses_delivered_batches() {
    let dir = std::env::temp_dir().join(format!("trailwatch-alloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("forwarded.ndjson");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let telemetry = Arc::new(Telemetry::new());
    let spec = parse_forward(&format!("file:{}", out.display()), 0).unwrap();
    let sinks = Arc::new(Sinks::start(&[spec], &telemetry, None).unwrap());
    let forward = Arc::new(Forward {
        enricher: Enricher::new("trailwatch", &[], false),
        sinks: sinks.clone(),
        matched_only: false,
    });
    let mut worker = Worker::new(settings(), telemetry.clone(), store(), None, Some(forward));
    let (small, large) = (batch(100), batch(10_000));
    // Bounded: a batch comes back once the file sink has written it.
    let delivered = || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while sinks.pool.is_empty() {
            assert!(
                Instant::now() < deadline,
                "no batch came back from the sink"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    for _ in 0..3 {
        worker.process(&large);
        delivered();
    }
    let per_large = allocations_during(|| worker.process(&large));
    delivered();
    let per_small = allocations_during(|| worker.process(&small));
    delivered();
    eprintln!(
        "forwarding allocations per batch: 100 events {per_small}, 10,000 events {per_large}"
    );
    // A reused batch already has room: no growth, and nothing per event.
    assert!(
        per_large <= per_small,
        "10,000 events allocated {per_large} times, 100 events {per_small}"
    );
    assert!(per_small < 64, "{per_small} allocations for one batch");
    let written = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert!(written > 0, "the sink wrote the events");
    drop(worker);
    runtime.block_on(sinks.shutdown(tokio::time::Instant::now() + Duration::from_secs(10)));
    drop(_entered);
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
}
