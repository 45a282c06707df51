//! Fuzz target: no pattern text panics the parser, and errors point inside the pattern.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = trailwatch_pattern::parse(text) {
        assert!(
            e.offset <= text.len(),
            "offset {} past the end of {text:?}",
            e.offset
        );
        assert!(e.column >= 1);
        let _ = e.to_string();
    }
});
