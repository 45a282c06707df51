#!/usr/bin/env python3
"""Ingest rates by wire format (Python 3 stdlib only): the same records sent to trailwatch as
NDJSON over TCP, MessagePack entries over TCP (Fluent Bit `tcp`, `Format msgpack`), and the
Forward protocol with acks (Fluent Bit `forward`, `Require_ack_response true`), plain and gzip.

    ingest.py [--records 200000] [--seed 1] [--threads 2] [--chunk 1000] [--rounds 2]

Every payload is encoded before timing starts. For each format a fresh `trailwatch` (release
build, the CIS pack, metrics only) is started; the clock runs from the first byte sent until
/metrics shows every record received and evaluated; trailwatch's CPU (user+sys, from
/proc/PID/stat) is read at that point. Forward clients behave like Fluent Bit: one chunk at a
time, the next sent once the previous one is acked. Rates are reported against NDJSON measured in
the same round (these machines are noisy). MB = 10^6 bytes of the NDJSON form of the records.
"""

import argparse
import gzip
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TRAILWATCH = os.path.join(REPO, "target", "release", "trailwatch")


def pack(v, out):
    """Appends the MessagePack encoding of a JSON value to `out` (a bytearray)."""
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        if 0 <= v < 128:
            out.append(v)
        elif -32 <= v < 0:
            out.append(v & 0xFF)
        elif v >= 0:
            out += b"\xcf" + struct.pack(">Q", v)
        else:
            out += b"\xd3" + struct.pack(">q", v)
    elif isinstance(v, float):
        out += b"\xcb" + struct.pack(">d", v)
    elif isinstance(v, str):
        b = v.encode()
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 256:
            out += bytes([0xD9, n])
        elif n < 65536:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(v, (bytes, bytearray)):
        out += b"\xc6" + struct.pack(">I", len(v)) + v
    elif isinstance(v, list):
        n = len(v)
        out += bytes([0x90 | n]) if n < 16 else b"\xdd" + struct.pack(">I", n)
        for x in v:
            pack(x, out)
    elif isinstance(v, dict):
        n = len(v)
        out += bytes([0x80 | n]) if n < 16 else b"\xdf" + struct.pack(">I", n)
        for k, x in v.items():
            pack(str(k), out)
            pack(x, out)
    else:
        raise TypeError(type(v))


def entry(record, out):
    """Fluent Bit's event format 2: [[EventTime(ext 0), {}], record]."""
    out += b"\x92\x92\xd7\x00" + struct.pack(">II", 1_700_000_000, 0) + b"\x80"
    pack(record, out)


def forward_messages(records, chunk, compressed):
    msgs = []
    for i in range(0, len(records), chunk):
        part = records[i:i + chunk]
        tag = "cloudtrail"
        cid = f"chunk-{i}"
        out = bytearray(b"\x93")
        pack(tag, out)
        if compressed:
            entries = bytearray()
            for r in part:
                entry(r, entries)
            pack(gzip.compress(bytes(entries), 6), out)
            pack({"chunk": cid, "size": len(part), "compressed": "gzip"}, out)
        else:
            out += b"\xdd" + struct.pack(">I", len(part))
            for r in part:
                entry(r, out)
            pack({"chunk": cid, "size": len(part)}, out)
        msgs.append((bytes(out), cid))
    return msgs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def received(metrics_port, source):
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
    except OSError:
        return -1
    evaluated = 0
    got = 0
    for line in text.splitlines():
        if line.startswith(f'trailwatch_events_received_total{{source="{source}"}}'):
            got = float(line.split()[-1])
        if line.startswith("trailwatch_events_evaluated_total"):
            evaluated += float(line.split()[-1])
    return got if evaluated >= got else -1


def run(fmt, payload, n, threads):
    tcp, fluent, metrics = free_port(), free_port(), free_port()
    args = [TRAILWATCH, "--metrics-addr", f"127.0.0.1:{metrics}", "--threads", str(threads)]
    source = "fluent" if fmt.startswith("forward") else "tcp"
    args += ["--fluent", f"127.0.0.1:{fluent}"] if source == "fluent" else ["--tcp", f"127.0.0.1:{tcp}"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while received(metrics, source) < 0:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit(f"{fmt}: trailwatch did not start")
            time.sleep(0.02)
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", fluent if source == "fluent" else tcp)) as s:
            if source == "tcp":
                s.sendall(payload)
            else:
                for msg, cid in payload:
                    s.sendall(msg)
                    want = b"\x81\xa3ack" + bytes([0xA0 | len(cid)]) + cid.encode()
                    got = b""
                    while len(got) < len(want):
                        part = s.recv(len(want) - len(got))
                        if not part:
                            raise SystemExit(f"{fmt}: connection closed without an ack")
                        got += part
                    if got != want:
                        raise SystemExit(f"{fmt}: unexpected ack {got!r}")
            deadline = time.time() + 300
            while received(metrics, source) < n:
                if time.time() > deadline:
                    raise SystemExit(f"{fmt}: only {received(metrics, source)} of {n} received")
                time.sleep(0.005)
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
        return wall, cpu
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=1000, help="records per Forward chunk")
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    if not os.access(TRAILWATCH, os.X_OK):
        raise SystemExit("build first: cargo build --release --bin trailwatch")
    path = f"/tmp/trailwatch-ingest-{a.records}-{a.seed}.ndjson"
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "gen_cloudtrail.py"), "--count", str(a.records),
                        "--seed", str(a.seed), "--out", path], check=True)
    ndjson = open(path, "rb").read()
    records = [json.loads(l) for l in ndjson.splitlines() if l.strip()]
    n = len(records)
    mp = bytearray()
    for r in records:
        entry(r, mp)
    payloads = {
        "NDJSON over TCP": ("ndjson", ndjson),
        "MessagePack over TCP (Fluent Bit tcp, Format msgpack)": ("msgpack", bytes(mp)),
        "Forward, acks (Fluent Bit forward, Require_ack_response)": ("forward", forward_messages(records, a.chunk, False)),
        "Forward, acks, gzip (CompressedPackedForward)": ("forward-gzip", forward_messages(records, a.chunk, True)),
    }
    mb = len(ndjson) / 1e6
    print(f"{n} records, {mb:.1f} MB as NDJSON, MessagePack {len(mp) / 1e6:.1f} MB; threads {a.threads}; "
          f"Forward chunks of {a.chunk}; load average {os.getloadavg()[0]:.2f}")
    print(f"machine: {os.cpu_count()} CPUs; command: {' '.join(sys.argv)}")
    print("| format | round | wall s | CPU s | MB/s (wall) | MB per CPU-s | ÷ NDJSON (wall, same round) |")
    print("|---|---|---|---|---|---|---|")
    for rnd in range(1, a.rounds + 1):
        base = None
        for label, (fmt, payload) in payloads.items():
            wall, cpu = run(fmt, payload, n, a.threads)
            base = base or wall
            print(f"| {label} | {rnd} | {wall:.2f} | {cpu:.2f} | {mb / wall:.0f} | {mb / cpu:.0f} | {base / wall:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
