#!/usr/bin/env python3
"""Benchmark of `trailwatch grep` on a CloudTrail archive (Python 3.11, stdlib only).

    grep.py [--records 650000] [--seed 1] [--workdir DIR] [--jq-files 200]

1. Generates (once, cached in WORKDIR) an S3-layout archive of `.json.gz` delivery files with
   gen_cloudtrail.py (--format records-gz, 500 records per file); 650,000 records are about
   1.06 GB uncompressed.
2. Measures, one after another on the same files, user+sys CPU seconds (os.wait4, children
   included) and wall seconds of:
     inflate     target/release/examples/inflate: the same gzip decoder, reads and threads,
                 doing nothing with the bytes (the floor grep cannot go below)
     zcat        gzip's own inflate, for reference
     grep        trailwatch grep --count with a selective pattern, and again with NDJSON output
                 to /dev/null and with a --user shortcut + --since window
     zcat | jq   `zcat FILES | jq -c '.Records[] | select(...)'` on --jq-files files spread over the archive
                 (jq is ~100x slower); compared per CPU-second of inflated bytes
3. Checks that grep and jq find the same events on the jq subset (exit 1 on a mismatch).
4. Prints a Markdown table: CPU ratio grep / inflate (target <= 1.3) and the MB per CPU-second
   ratio grep / (zcat | jq) (target >= 20).

Build first: cargo build --release --bin trailwatch --example inflate
"""

import argparse
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PATTERN = '{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }'
JQ = 'select(.eventName == "ConsoleLogin" and .errorMessage == "Failed authentication")'


def run(cmd, shell=False, timeout=1800):
    """Runs cmd; returns (stdout, wall s, cpu s)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, shell=shell, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=timeout)
    wall = time.monotonic() - start
    # communicate() reaped the child; the children's rusage includes the shell's children.
    return out, err, p.returncode, wall


def measured(cmd, shell=False):
    before = os.times()
    out, err, code, wall = run(cmd, shell)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    if code not in (0, 1):
        sys.exit(f"{cmd!r} failed ({code}): {err.decode(errors='replace')[:2000]}")
    return out, wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=650_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", default="/tmp/trailwatch-grep-bench")
    ap.add_argument("--jq-files", type=int, default=200)
    args = ap.parse_args()

    tw = os.path.join(ROOT, "target/release/trailwatch")
    inflate = os.path.join(ROOT, "target/release/examples/inflate")
    for b in (tw, inflate):
        if not os.path.exists(b):
            sys.exit(f"{b} missing: cargo build --release --bin trailwatch --example inflate")
    for tool in ("jq", "zcat"):
        if not shutil.which(tool):
            sys.exit(f"{tool} missing: apt-get install -y jq gzip")

    gen = os.path.join(HERE, "gen_cloudtrail.py")
    tag = hashlib.sha256(open(gen, "rb").read()).hexdigest()[:12]
    archive = os.path.join(args.workdir, f"archive-{args.records}-{args.seed}-{tag}")
    if not os.path.isdir(archive):
        os.makedirs(args.workdir, exist_ok=True)
        tmp = archive + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        t = time.monotonic()
        subprocess.run([sys.executable, gen, "--count", str(args.records), "--seed", str(args.seed),
                        "--format", "records-gz", "--out", tmp], check=True, timeout=3600)
        os.rename(tmp, archive)
        print(f"generated {archive} in {time.monotonic() - t:.0f} s", file=sys.stderr)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(archive) for f in fs if f.endswith(".json.gz"))
    compressed = sum(os.path.getsize(f) for f in files)
    # Every k-th file, so the subset spans accounts and regions (sign-in events are in us-east-1).
    step = max(1, len(files) // max(1, args.jq_files))
    subset = files[::step][: args.jq_files]
    listing = os.path.join(args.workdir, "subset.txt")
    with open(listing, "w") as f:
        f.write("\n".join(subset) + "\n")

    rows = []
    out, wall, cpu = measured([inflate, archive])
    inflated = int(out.decode().strip())
    rows.append(("inflate (same decoder, threads)", wall, cpu, ""))
    out, wall, cpu_zcat = measured(f"find {shlex.quote(archive)} -name '*.json.gz' -print0 | xargs -0 zcat > /dev/null", shell=True)
    rows.append(("zcat > /dev/null", wall, cpu_zcat, ""))
    out, wall, cpu_grep = measured([tw, "grep", "--count", "--no-progress", PATTERN, archive])
    grep_count = int(out.decode().strip())
    rows.append((f"trailwatch grep --count PATTERN", wall, cpu_grep, f"{grep_count} matches"))
    out, wall, cpu_ndjson = measured(f"{shlex.quote(tw)} grep --no-progress {shlex.quote(PATTERN)} {shlex.quote(archive)} > /dev/null", shell=True)
    rows.append(("trailwatch grep PATTERN > /dev/null (NDJSON)", wall, cpu_ndjson, ""))
    out, wall, cpu_user = measured([tw, "grep", "--count", "--no-progress", "--failed", "--user", "root", "--since", "2026-12-01T00:00:00Z", archive])
    rows.append(("trailwatch grep --count --failed --user root --since T", wall, cpu_user, f"{int(out.decode().strip())} matches"))

    # The jq subset: trailwatch and jq on the same files.
    sub_inflated = int(measured([inflate, "--threads", "1"] + subset)[0].decode().strip())
    out, wall_jq, cpu_jq = measured(f"xargs zcat < {shlex.quote(listing)} | jq -c '.Records[] | {JQ}' | wc -l", shell=True)
    jq_count = int(out.decode().strip())
    out, _, _ = measured([tw, "grep", "--count", "--no-progress", PATTERN] + subset)
    tw_sub = int(out.decode().strip())
    rows.append((f"zcat | jq -c '.Records[] | select(…)' ({len(subset)} files, {sub_inflated / 1e6:.0f} MB)", wall_jq, cpu_jq, f"{jq_count} matches (trailwatch: {tw_sub})"))

    print(f"archive: {len(files)} files, {compressed / 1e6:.1f} MB gzip, {inflated / 1e6:.1f} MB inflated; "
          f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    print()
    print("| run | wall s | CPU s | inflated MB per CPU-second | |")
    print("|---|---|---|---|---|")
    for name, wall, cpu, note in rows:
        size = sub_inflated if name.startswith("zcat |") else inflated
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {size / 1e6 / cpu:.0f} | {note} |")
    print()
    jq_rate = sub_inflated / cpu_jq
    grep_rate = inflated / cpu_grep
    print(f"- CPU, grep --count ÷ inflate alone: **{cpu_grep / rows[0][2]:.2f}×** (target ≤ 1.3); "
          f"NDJSON output: {cpu_ndjson / rows[0][2]:.2f}×; shortcuts + window: {cpu_user / rows[0][2]:.2f}×")
    print(f"- MB per CPU-second, grep ÷ (zcat | jq): **{grep_rate / jq_rate:.0f}×** (target ≥ 20)")
    if jq_count != tw_sub:
        print(f"MISMATCH: jq found {jq_count}, trailwatch {tw_sub}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
