//! No per-event allocation in the service's hot path: a worker that decodes and evaluates a
//! batch of 10,000 events allocates no more than for a batch of 100 (what it allocates is per
//! batch). Its own test binary, because it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use trailwatch::config::{BUILTIN_FILTERS, FilterPlan, SourceFile, aws};
use trailwatch::event::{Batch, SourceKind};
use trailwatch::metrics::{Store, Telemetry};
use trailwatch::worker::{Worker, WorkerSettings};

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

#[test]
fn a_worker_allocates_per_batch_not_per_event() {
    let file = Arc::new(SourceFile {
        path: "builtin".into(),
        text: BUILTIN_FILTERS.to_owned(),
    });
    let plan = FilterPlan::compile(&aws::load(&file).unwrap()).unwrap();
    let telemetry = Arc::new(Telemetry::new());
    let store = Arc::new(Store::new(plan, 1000));
    let settings = WorkerSettings {
        max_event_bytes: 1 << 20,
        event_fields: vec!["message".into(), "log".into()],
        always_parse: false,
    };
    let mut worker = Worker::new(settings, telemetry.clone(), store, None, None);
    let (small, large) = (batch(100), batch(10_000));
    worker.process(&large);
    worker.process(&small);
    let count = |worker: &mut Worker, b: &Batch| {
        ALLOCATIONS.store(0, Ordering::Relaxed);
        COUNTING.store(true, Ordering::Relaxed);
        worker.process(b);
        COUNTING.store(false, Ordering::Relaxed);
        ALLOCATIONS.load(Ordering::Relaxed)
    };
    let per_small = count(&mut worker, &small);
    let per_large = count(&mut worker, &large);
    eprintln!("allocations per batch: 100 events {per_small}, 10,000 events {per_large}");
    assert!(
        per_large <= per_small,
        "10,000 events allocated {per_large} times, 100 events {per_small}"
    );
    assert!(per_small < 64, "{per_small} allocations for one batch");
    assert!(telemetry.events_evaluated.get() > 20_000);
}
