//! Fuzz target: a `describe-metric-filters` file, loaded and compiled as at start-up. Any text
//! must give filters or an error with a message, whose position (when it has one) is a line of
//! the file and a column from 1 — never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use trailwatch::config::{FilterPlan, SourceFile, aws};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let file = Arc::new(SourceFile {
        path: "filters.json".into(),
        text: text.to_owned(),
    });
    let result = aws::load(&file).and_then(|specs| FilterPlan::compile(&specs).map(|_| ()));
    if let Err(e) = result {
        assert!(!e.message.is_empty(), "an error without a message");
        if let Some((line, column)) = e.position {
            let lines = text.split('\n').count();
            assert!(
                line >= 1 && line <= lines,
                "line {line} of a {lines}-line file: {e}"
            );
            assert!(column >= 1, "column {column}: {e}");
        }
    }
});
