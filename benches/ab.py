#!/usr/bin/env python3
"""Same-run A/B of trailwatch binaries on one input (Python 3.11, stdlib only).

    ab.py --mode metrics|disk --input EVENTS.ndjson --binary NAME=PATH [--binary NAME=PATH ...]
          [--rounds 3] [--threads 2] [--workdir DIR]

Each run is `trailwatch --stdin --threads T --metrics-addr none --metrics-out F` with stdin
redirected from EVENTS (the built-in CIS pack). `--mode metrics` measures that alone (the
metrics-only rate). `--mode disk` adds `--config C`: one file sink (to /dev/null) behind a fresh
disk buffer in WORKDIR, so the extra cost is the buffer's: every batch is written and fsynced
before the worker moves on, then read back and delivered; the process exits once the sink has
delivered everything (a run counts only if the sink's `sent` count equals the events received). Binaries are interleaved round by round, so
the machine's drift hits them alike; the table gives each run and the median, in MB/s (10^6 bytes of
input per wall second) and per CPU-second, and the ratio of medians against the first binary.
"""

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CONFIG = """
[[sinks]]
type = "file"
path = "/dev/null"
buffer = {{ type = "disk", path = "{dir}", max_bytes = "4GiB" }}
"""


def run(binary, events, threads, workdir, index, disk):
    buf = os.path.join(workdir, f"buffer-{index}")
    shutil.rmtree(buf, ignore_errors=True)
    prom = os.path.join(workdir, f"metrics-{index}.prom")
    cmd = [binary, "--stdin", "--threads", str(threads),
           "--metrics-addr", "none", "--metrics-out", prom, "--shutdown-timeout", "600s"]
    if disk:
        config = os.path.join(workdir, f"sink-{index}.toml")
        with open(config, "w") as f:
            f.write(CONFIG.format(dir=buf))
        cmd += ["--config", config]
    with open(events, "rb") as stdin:
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - start
    if status != 0:
        sys.exit(f"{' '.join(cmd)} exited with {status}")
    text = open(prom).read()
    received = metric(text, r'trailwatch_events_received_total\{source="stdin"\}')
    sent = metric(text, r'trailwatch_sink_events_total\{outcome="sent",sink="file_0"\}')
    if received == 0 or (disk and sent != received):
        sys.exit(f"{binary}: received {received}, sent {sent}: not every event was delivered")
    shutil.rmtree(buf, ignore_errors=True)
    return wall, usage.ru_utime + usage.ru_stime, received


def metric(text, pattern):
    m = re.search(pattern + r" (\S+)", text)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("metrics", "disk"), required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--binary", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    binaries = [b.split("=", 1) for b in a.binary]
    workdir = a.workdir or tempfile.mkdtemp(prefix="tw-disk-bench-")
    size = os.path.getsize(a.input)
    runs = {name: [] for name, _ in binaries}
    for r in range(a.rounds):
        for i, (name, path) in enumerate(binaries):
            wall, cpu, events = run(path, a.input, a.threads, workdir, i, a.mode == "disk")
            runs[name].append((wall, cpu))
            print(f"round {r + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {events:.0f} events", flush=True)
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; input {size / 1e6:.0f} MB; "
          f"--threads {a.threads}; command: {' '.join(sys.argv)}")
    print()
    print("| binary | runs (MB/s) | median MB/s | median MB per CPU-s | ratio |")
    print("|---|---|---|---|---|")
    base = None
    for name, _ in binaries:
        rates = [size / 1e6 / w for w, _ in runs[name]]
        per_cpu = statistics.median(size / 1e6 / c for _, c in runs[name])
        med = statistics.median(rates)
        base = base or med
        print(f"| {name} | {', '.join(f'{x:.0f}' for x in rates)} | {med:.0f} | {per_cpu:.0f} | {med / base:.2f}× |")


if __name__ == "__main__":
    main()
