//! Fuzz target: anomaly detection on arbitrary events. Each input line is observed (the
//! structural field extraction must not panic on any bytes), the detectors run with short
//! learning periods so every path is reached, and the state must survive a snapshot round trip
//! (to a snapshot of the same size: maps have no order); the input itself, read as a state file, must be refused or accepted cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailwatch::anomaly::{AnomalySettings, Detector, Observations, snapshot};

fuzz_target!(|input: &[u8]| {
    let settings = AnomalySettings {
        learning_secs: 60,
        learning_min_secs: 1,
        learning_events: 2,
        new_api_settle_secs: 0,
        rate_warmup_minutes: 1,
        rate_min_per_minute: 2,
        burst_errors: 2,
        burst_apis: 1,
        max_memory: 1 << 20,
        ..AnomalySettings::default()
    };
    let mut detector = Detector::new(settings.clone());
    let mut obs = Observations::default();
    for line in input.split(|&b| b == b'\n') {
        obs.push(line, None);
    }
    let mut found = Vec::new();
    detector.observe_all(&obs, &mut found);
    for f in &found {
        assert!(
            serde_json::from_slice::<serde_json::Value>(&f.record).is_ok(),
            "record is not JSON"
        );
        assert!(serde_json::from_slice::<serde_json::Value>(&f.summary).is_ok());
    }
    let bytes = snapshot::encode(&detector);
    let mut restored = Detector::new(settings.clone());
    let path = std::path::Path::new("fuzz.state");
    snapshot::decode(&bytes, path, &mut restored).expect("own snapshot restores");
    assert_eq!(snapshot::encode(&restored).len(), bytes.len());
    let _ = snapshot::decode(input, path, &mut Detector::new(settings));
});
