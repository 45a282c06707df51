//! The baseline of `benches/grep.py`: inflating files and nothing else, with the same gzip
//! decoder (flate2 on zlib-rs), the same 256 KiB reads and the same one-thread-per-core sharing
//! of files as `trailwatch grep`. Prints the inflated byte count.
//!
//!     cargo run --release --example inflate -- [--threads N] PATH...

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

fn main() -> std::io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        let n = args.get(i + 1).and_then(|n| n.parse().ok());
        let Some(n) = n else {
            eprintln!("inflate: --threads needs a number");
            std::process::exit(2);
        };
        threads = n;
        args.drain(i..i + 2);
    }
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    let files = trailwatch::source::files::expand(&paths)?;
    let next = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| {
                let mut buf = vec![0u8; 256 << 10];
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let Ok(file) = std::fs::File::open(path) else {
                        eprintln!("inflate: cannot open {}", path.display());
                        continue;
                    };
                    let raw = std::io::BufReader::with_capacity(256 << 10, file);
                    let mut gz = flate2::read::MultiGzDecoder::new(raw);
                    loop {
                        match gz.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                total.fetch_add(n as u64, Ordering::Relaxed);
                            }
                            Err(e) => {
                                eprintln!("inflate: {}: {e}", path.display());
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    println!("{}", total.load(Ordering::Relaxed));
    Ok(())
}
