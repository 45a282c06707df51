#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer coverage instrumentation and runs each for a bounded time.
# Works on the stable toolchain (cargo-fuzz's default address sanitizer needs nightly; the
# coverage passes used here are stable codegen options).
#
#   crates/pattern/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse_pattern evaluate)
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
 -Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR=target/instrumented
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros (as cargo-fuzz does).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --release --bins --target "$host"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "fuzzing $t for ${seconds}s"
  "$CARGO_TARGET_DIR/$host/release/$t" "corpus/$t" "seeds/$t" \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>&1 | tail -n 4
done
