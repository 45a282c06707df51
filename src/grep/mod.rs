//! `trailwatch grep`: search CloudTrail archives with a filter pattern, like CloudWatch's
//! FilterLogEvents, reading files exactly as the service does so the two never disagree on an
//! event.
//!
//! * [`query`] — PATTERN and shortcuts compiled to one filter set, the `eventTime` window;
//! * [`scan`] — one input: decompression, Records splitting or line framing, envelopes,
//!   evaluation;
//! * [`output`] — NDJSON or table;
//!
//! Inputs are shared out to one thread per core; each reads in bounded chunks, so memory does
//! not grow with the archive.

pub mod output;
pub mod query;
pub mod scan;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{GrepArgs, GrepFormat};
use crate::config::defaults;
use crate::error::CliError;
use output::{Out, Style};
use query::{Shortcuts, TimeWindow};
use scan::{Progress, Scanner};

/// One input.
#[derive(Debug, Clone)]
enum Input {
    File(PathBuf),
    Stdin,
}

/// Runs the subcommand; returns the exit status: 0 if something matched, 1 if nothing did,
/// 2 if an input could not be read.
pub fn run(args: &GrepArgs) -> Result<u8, CliError> {
    let shortcuts = Shortcuts {
        users: &args.user,
        ips: &args.ip,
        events: &args.event,
        failed: args.failed,
    };
    let positional: Vec<&str> = args.args.iter().map(String::as_str).collect();
    // With -e every argument is a PATH. With only shortcuts or a time window the PATTERN is
    // optional: the first argument is a PATH when it names one (or is `-`), else the PATTERN.
    let optional_pattern = shortcuts.any() || args.since.is_some() || args.until.is_some();
    let first_is_path = positional
        .first()
        .is_some_and(|p| *p == "-" || std::fs::metadata(p).is_ok());
    let (pattern, paths) = if args.pattern.is_some() || (optional_pattern && first_is_path) {
        (args.pattern.as_deref(), &positional[..])
    } else {
        match positional.split_first() {
            Some((p, rest)) => (Some(*p), rest),
            None => {
                return Err(CliError::Usage(
                    "give a PATTERN (or -e PATTERN, --user, --ip, --event, --failed, --since, --until) and at least one PATH".into(),
                ));
            }
        }
    };
    if paths.is_empty() {
        return Err(CliError::Usage(
            "give at least one PATH: a file, a folder (searched recursively), or - for stdin"
                .into(),
        ));
    }
    let window = TimeWindow {
        since: args
            .since
            .as_deref()
            .map(|s| crate::timespec::parse("--since", s))
            .transpose()
            .map_err(CliError::Usage)?,
        until: args
            .until
            .as_deref()
            .map(|s| crate::timespec::parse("--until", s))
            .transpose()
            .map_err(CliError::Usage)?,
    };
    let query = query::compile(pattern, &shortcuts, window)?;
    let inputs = inputs(paths)?;

    let stdout_tty = io::stdout().is_terminal();
    let style = match (args.count, args.format) {
        (true, _) => Style::Count,
        (false, Some(GrepFormat::Ndjson)) => Style::Ndjson,
        (false, Some(GrepFormat::Table)) => Style::Table,
        (false, None) if stdout_tty => Style::Table,
        (false, None) => Style::Ndjson,
    };
    let shared: Mutex<Box<dyn Write + Send>> = Mutex::new(Box::new(io::stdout()));
    if style == Style::Table {
        if let Ok(mut w) = shared.lock() {
            w.write_all(output::table_header().as_bytes())?;
        }
    }
    let total_bytes: u64 = inputs
        .iter()
        .map(|i| match i {
            Input::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::Stdin => 0,
        })
        .sum();
    let bar = (!args.no_progress && io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{elapsed} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg} [{wide_bar}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar
    });
    let around = |f: &mut dyn FnMut()| match &bar {
        Some(b) if stdout_tty => b.suspend(f),
        _ => f(),
    };
    let progress = Progress::default();
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, inputs.len().max(1));
    let event_fields: Vec<String> = defaults::EVENT_FIELDS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let started = Instant::now();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        if let Some(bar) = &bar {
            let (progress, done, n) = (&progress, &done, inputs.len());
            s.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    bar.set_position(progress.bytes.load(Ordering::Relaxed));
                    bar.set_message(format!(
                        "{}/{n} files, {} matches",
                        progress.files.load(Ordering::Relaxed),
                        progress.matches.load(Ordering::Relaxed)
                    ));
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let out = Out::new(style, &shared, &around);
                    let mut scanner = Scanner::new(
                        &query,
                        defaults::MAX_EVENT_BYTES,
                        &event_fields,
                        &progress,
                        out,
                    );
                    loop {
                        if progress.stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let Some(input) = inputs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                            return;
                        };
                        let (name, result) = match input {
                            Input::File(p) => (
                                p.display().to_string(),
                                std::fs::File::open(p).and_then(|f| scanner.scan(f)),
                            ),
                            Input::Stdin => {
                                ("(stdin)".to_owned(), scanner.scan(io::stdin().lock()))
                            }
                        };
                        progress.files.fetch_add(1, Ordering::Relaxed);
                        match result {
                            Ok(()) => {}
                            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                                progress.stop.store(true, Ordering::Relaxed);
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                around(&mut || eprintln!("trailwatch grep: {name}: {e}"));
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            if w.join().is_err() {
                failed.store(true, Ordering::Relaxed);
            }
        }
        done.store(true, Ordering::Relaxed);
    });
    let matches = progress.matches.load(Ordering::Relaxed);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{matches} matches in {} events, {} files, {:.1} MB in {secs:.1} s",
            progress.events.load(Ordering::Relaxed),
            progress.files.load(Ordering::Relaxed),
            progress.bytes.load(Ordering::Relaxed) as f64 / 1e6,
        );
    }
    let rejected = progress.rejected.load(Ordering::Relaxed);
    if rejected > 0 {
        eprintln!(
            "trailwatch grep: {rejected} documents were not events (not UTF-8, invalid JSON, malformed envelope or over {} bytes) and were skipped",
            defaults::MAX_EVENT_BYTES
        );
    }
    if !progress.stop.load(Ordering::Relaxed) {
        let mut w = shared
            .lock()
            .map_err(|_| CliError::from(std::io::Error::other("output writer poisoned")))?;
        if style == Style::Count {
            writeln!(w, "{matches}")?;
        }
        w.flush()?;
    }
    Ok(if failed.load(Ordering::Relaxed) {
        2
    } else if matches > 0 {
        0
    } else {
        1
    })
}

/// The inputs: `-` is stdin, folders are walked as the service walks them (`--files`).
fn inputs(paths: &[&str]) -> Result<Vec<Input>, CliError> {
    let mut out = Vec::new();
    for p in paths {
        if *p == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        if let Err(e) = std::fs::metadata(&path) {
            let looks_like_pattern = p.starts_with(['{', '[', '%', '"']) || p.contains(' ');
            let hint = if looks_like_pattern {
                " (a second pattern? combine them in one, or use the shortcuts)"
            } else {
                ""
            };
            return Err(CliError::Usage(format!("{p}: {e}{hint}")));
        }
        let files = crate::source::files::expand(&[path])
            .map_err(|error| CliError::Io { path: None, error })?;
        out.extend(files.into_iter().map(Input::File));
    }
    Ok(out)
}
