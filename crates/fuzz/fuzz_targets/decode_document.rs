//! Fuzz target: a document through the decoder (every envelope, base64 + gzip, shippers' string
//! wrappers, nesting) and, framed as an HTTP body and as lines, through a worker with the CIS
//! pack. Nothing may panic, and every event handed on must be UTF-8 (the evaluator and the
//! sinks rely on it); decoded content (gunzipped, unescaped) stays within the decoder's limit.
#![no_main]

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use trailwatch::config::{BUILTIN_FILTERS, FilterPlan, SourceFile, aws};
use trailwatch::event::envelope::{Decoder, Event, Output};
use trailwatch::event::framing::frame_body;
use trailwatch::event::{Batch, EnvelopeKind, Framing, RejectReason, SourceKind};
use trailwatch::metrics::{Store, Telemetry};
use trailwatch::worker::{Worker, WorkerSettings};

/// Small, so the fuzzer reaches the limit.
const MAX_DECODED: usize = 64 << 10;

struct Check {
    events: usize,
}

impl Output for Check {
    fn event(&mut self, e: Event<'_>) {
        self.events += 1;
        assert!(std::str::from_utf8(e.eval).is_ok(), "eval bytes not UTF-8");
        assert!(
            std::str::from_utf8(e.forward).is_ok(),
            "forward bytes not UTF-8"
        );
        assert!(e.eval.len() <= MAX_DECODED.max(e.forward.len()));
        if matches!(
            e.envelope,
            EnvelopeKind::Records | EnvelopeKind::EventBridge
        ) {
            assert_eq!(
                e.eval.first(),
                Some(&b'{'),
                "{:?} event is not an object",
                e.envelope
            );
        }
    }

    fn reject(&mut self, _reason: RejectReason, _bytes: &[u8], detail: &str) {
        assert!(!detail.is_empty(), "a rejection without a reason");
    }
}

fn worker() -> Worker {
    let file = Arc::new(SourceFile {
        path: "builtin".into(),
        text: BUILTIN_FILTERS.to_owned(),
    });
    let specs = aws::load(&file).expect("the built-in pack loads");
    let plan = FilterPlan::compile(&specs).expect("the built-in pack compiles");
    let settings = WorkerSettings {
        max_event_bytes: MAX_DECODED,
        event_fields: vec!["message".into(), "log".into()],
        always_parse: false,
    };
    let store = Arc::new(Store::new(plan, 100));
    Worker::new(settings, Arc::new(Telemetry::new()), store, None, None)
}

thread_local! {
    static STATE: RefCell<(Decoder, Worker)> = RefCell::new((
        Decoder::new(&["message".into(), "log".into()], MAX_DECODED),
        worker(),
    ));
}

fuzz_target!(|data: &[u8]| {
    STATE.with(|state| {
        let (decoder, worker) = &mut *state.borrow_mut();
        let mut check = Check { events: 0 };
        decoder.decode(data, &mut check);

        let data = Bytes::copy_from_slice(data);
        worker.process(&Batch::lines(SourceKind::Stdin, data.clone()));
        for content_type in [None, Some("application/json")] {
            if let Ok(framing) = frame_body(&data, content_type) {
                if let Framing::Documents(ranges) = &framing {
                    for r in ranges {
                        assert!(r.start <= r.end && r.end as usize <= data.len());
                    }
                }
                let mut batch = Batch::lines(SourceKind::Http, data.clone());
                batch.framing = framing;
                worker.process(&batch);
            }
        }
    });
});
