//! Fuzz target: enrichment splices an object into the original bytes instead of re-serialising.
//! For any event the forwarded line must be valid JSON whenever the original was a JSON object
//! (or was text), keep every original member unchanged, and carry the matched filter names and
//! the static fields; the metadata sinks use (eventID, labels) must stay inside its buffers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use trailwatch::event::EnvelopeKind;
use trailwatch::event::envelope::Event;
use trailwatch::sink::OutBatch;
use trailwatch::sink::enrich::Enricher;

const NAMES: [&str; 4] = [
    "root_usage",
    "console \"signin\"",
    "root_usage",
    "ünïcode\u{7}",
];

fuzz_target!(|input: &[u8]| {
    let Some((&flags, doc)) = input.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(doc) else {
        return; // the decoder rejects invalid UTF-8 before enrichment
    };
    let statics = [("cluster".to_owned(), "prod \"eu\"".to_owned())];
    let mut enricher = Enricher::new("trailwatch", &statics, flags & 1 != 0);
    enricher.needs_time = flags & 2 != 0;
    enricher.needs_id = flags & 4 != 0;
    if flags & 8 != 0 {
        enricher.label_paths = vec![
            vec!["eventSource".into()],
            vec!["userIdentity".into(), "type".into()],
        ];
    }
    let envelope = if flags & 16 != 0 {
        EnvelopeKind::Text
    } else {
        EnvelopeKind::Bare
    };
    let matched: Vec<&str> = (0..NAMES.len())
        .filter(|i| flags & (32 << (i % 3)) != 0)
        .map(|i| NAMES[i])
        .collect();
    let event = Event {
        eval: doc,
        forward: doc,
        envelope,
    };
    let mut out = OutBatch::default();
    out.data.extend_from_slice(b"{\"earlier\":1}\n"); // appends after what is there
    enricher.append(&event, matched.iter().copied(), &mut out);

    let [e] = &out.events[..] else {
        panic!(
            "expected exactly the appended event, got {}",
            out.events.len()
        );
    };
    let (start, end) = (e.line.start as usize, e.line.end as usize);
    assert_eq!(start, 14, "the event does not start where the batch ended");
    assert!(start <= end && end + 1 == out.data.len() && out.data[end] == b'\n');
    assert!(e.id.end as usize <= out.aux.len());
    for r in &out.label_values {
        assert!(r.start <= r.end && r.end as usize <= out.aux.len());
    }
    let line = &out.data[start..end];

    // What the enricher trims: JSON whitespace only (str::trim would also take Unicode spaces).
    let trimmed = text.trim_matches([' ', '\t', '\n', '\r']);
    let original: Option<Value> = serde_json::from_str(text).ok();
    let braces = trimmed.starts_with('{') && trimmed.ends_with('}');
    let as_object = envelope != EnvelopeKind::Text && braces;
    if as_object && !matches!(original, Some(Value::Object(_))) {
        // Malformed JSON between braces: with `--json-validation framing` (the default) it is
        // forwarded as it came, unparsed, by design; `full` rejects it before this point.
        return;
    }
    if !as_object {
        let got: Value = serde_json::from_slice(line).expect("a text event forwards as JSON");
        assert_eq!(got["message"], Value::String(trimmed.to_owned()));
    }
    let got: Value = serde_json::from_slice(line).expect("the enriched line is JSON");
    let mut want_filters: Vec<&str> = Vec::new();
    for m in &matched {
        if !want_filters.contains(m) {
            want_filters.push(m);
        }
    }
    let added = &got["trailwatch"];
    assert_eq!(added["filters"], serde_json::json!(want_filters));
    assert_eq!(added["cluster"], "prod \"eu\"");
    if let (true, Some(Value::Object(orig)), Value::Object(got)) = (as_object, &original, &got)
        && !orig.contains_key("trailwatch")
    {
        let mut rest = got.clone();
        rest.remove("trailwatch");
        assert_eq!(&rest, orig, "original members changed");
    }
});
