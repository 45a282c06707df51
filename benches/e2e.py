#!/usr/bin/env python3
"""End-to-end throughput harness for trailwatch (Python 3.11, stdlib only).

    e2e.py [--records 1000000] [--seed 1] [--threads 1,2] [--workdir DIR] [--filters cis|five] [--keep] [--extras]

1. Generates the workload once with gen_cloudtrail.py (compact NDJSON CloudTrail records) and caches
   it in WORKDIR, keyed by records, seed and a hash of the generator's source.
2. Runs, one after another, on that same file (stdin redirected from the file, never a pipe):
     cat FILE > /dev/null, wc -l < FILE            hardware reference points
     trailwatch --stdin --metrics-addr none --metrics-out F --threads T      for each T
     a Python stdlib loop (json.loads per line + the same filters, CloudWatch semantics)
     jq, mtail, Fluent Bit, Vector                  where installed ("not installed" rows otherwise)
3. Compares the per-filter counts of every tool that evaluates filters with the Python loop's, and runs
   `trailwatch test-pattern --format json` on one filter as an independent check.  Any difference
   prints MISMATCH (with example records and `test-pattern --explain` output) and the exit code is 1.
4. Prints the machine, the command line and a table (also written as Markdown to WORKDIR/results.md).
5. With --extras, a second table "Forwarding, backfill and test-pattern", measured the same way:
     trailwatch --stdin ... --forward file:/dev/null | tcp://127.0.0.1:PORT | --config (an http sink,
       compression "none" and the default gzip), for each T, to a receiver this script runs as a child
       process (`e2e.py _receiver`), which counts the lines it gets (must equal the records) and its own
       CPU time; metric counts must equal the metrics-only run's; the rate ÷ metrics-only rate (target 0.5)
     trailwatch --files DIR for each T, DIR = the same records as records-gz files (cached in WORKDIR)
     trailwatch test-pattern --format text <console sign-in failures> FILE ("Found N matches" = the service's)

Each run is measured with os.wait4 (wall seconds, user+sys CPU seconds, ru_maxrss).
MB means 10^6 bytes everywhere, peak RSS included.  Every subprocess has a timeout.
Filters: `cis` = trailwatch's built-in 15-filter pack (no filter flag; the Python loop reads the same
patterns from configs/filters/cis-aws-foundations.json); `five` = five of those patterns, written to
WORKDIR/filters-five.json in `aws logs describe-metric-filters` form and passed with --aws-metric-filters.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal, InvalidOperation

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
GENERATOR = os.path.join(HERE, "gen_cloudtrail.py")
CIS_FILE = os.path.join(REPO, "configs", "filters", "cis-aws-foundations.json")
DEFAULT_TRAILWATCH = os.path.join(REPO, "target", "release", "trailwatch")
FIVE = ["root_usage_metric", "unauthorized_api_calls_metric", "console_signin_failure_metric",
        "iam_changes_metric", "cloudtrail_cfg_changes_metric"]
MB = 1e6


# =============================================================================================
# CloudWatch Logs JSON filter patterns: parser and two compilers (Python, jq).
# Semantics follow shared/pattern-language.md §5.4/§5.5:
#   `= "s"` / `= bare`: glob (`*` = any run of characters) on a string, or on a number's text;
#                       false for booleans, null, arrays, objects and missing fields.
#   `!= "s"`:           the negation, but only for strings and numbers (never for missing/null/...).
#   `= N` / `!= N`:     numeric on numbers; on strings, the text compared with the literal as written.
#   `< <= > >= N`:      numbers only.        `= *`: any string or number.
#   `IS NULL` (and an array directly holding null), `IS TRUE`, `IS FALSE`, `NOT EXISTS` (null exists).
#   The event must be a JSON object, otherwise nothing matches (not even NOT EXISTS).
# =============================================================================================
class PatternError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<and>&&) | (?P<or>\|\|)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<lp>\() | (?P<rp>\)) | (?P<lb>\{) | (?P<rb>\})
  | (?P<sel>\$(?:\.\[\'[^']*\'\]|\.[A-Za-z0-9_\-@]+|\.\*|\[\d+\]|\[\*\])+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<re>%(?:[^%\\]|\\.)+%)
  | (?P<word>[^\s()&|{}=!<>"]+)
""", re.X)
_NUM = re.compile(r"^[+-]?(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?$")


def tokenize(p):
    out, i = [], 0
    while i < len(p):
        m = _TOKEN.match(p, i)
        if not m:
            raise PatternError("cannot tokenize at %r" % p[i:i + 20])
        i = m.end()
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
    return out


def parse_selector(text):
    steps = []
    for m in re.finditer(r"\.\[\'([^']*)\'\]|\.([A-Za-z0-9_\-@]+)|(\.\*)|\[(\d+)\]|(\[\*\])", text[1:]):
        if m.group(1) is not None:
            steps.append(m.group(1))
        elif m.group(2) is not None:
            steps.append(m.group(2))
        elif m.group(3) or m.group(5):
            steps.append(WILD)
        else:
            steps.append(int(m.group(4)))
    if sum(1 for s in steps if s is WILD) > 1:
        raise PatternError("at most one wildcard per selector")
    return tuple(steps)


class _Wild:
    def __repr__(self):
        return "*"


WILD = _Wild()


def parse_pattern(pattern):
    """AST: ('or', [..]) | ('and', [..]) | ('cond', selector, op, value)
    value: ('str', text) | ('num', text) | ('re', text) | ('any',) | None (IS/NOT EXISTS ops)."""
    p = pattern.strip()
    if not (p.startswith("{") and p.endswith("}")):
        raise PatternError("only JSON patterns ({...}) are supported here")
    toks = tokenize(p[1:-1])
    pos = [0]

    def peek(k=0):
        return toks[pos[0] + k] if pos[0] + k < len(toks) else (None, None)

    def take(kind=None):
        t = peek()
        if kind and t[0] != kind:
            raise PatternError("expected %s, got %r" % (kind, t[1]))
        pos[0] += 1
        return t

    def or_expr():
        items = [and_expr()]
        while peek()[0] == "or":
            take()
            items.append(and_expr())
        return items[0] if len(items) == 1 else ("or", items)

    def and_expr():
        items = [primary()]
        while peek()[0] == "and":
            take()
            items.append(primary())
        return items[0] if len(items) == 1 else ("and", items)

    def primary():
        if peek()[0] == "lp":
            take()
            e = or_expr()
            take("rp")
            return e
        return condition()

    def condition():
        sel = parse_selector(take("sel")[1])
        kind, text = peek()
        if kind == "word" and text.upper() == "IS":
            take()
            w = take("word")[1].upper()
            if w not in ("NULL", "TRUE", "FALSE"):
                raise PatternError("IS %s" % w)
            return ("cond", sel, "is" + w.lower(), None)
        if kind == "word" and text.upper() == "NOT":
            take()
            if take("word")[1].upper() != "EXISTS":
                raise PatternError("NOT must be followed by EXISTS")
            return ("cond", sel, "notexists", None)
        op = take("op")[1]
        kind, text = take()
        if kind == "str":
            val = ("str", json.loads(text) if "\\" in text else text[1:-1])
        elif kind == "re":
            val = ("re", text[1:-1])
        elif kind == "word":
            if text == "*":
                val = ("any",)
            elif _NUM.match(text):
                val = ("num", text)
            else:
                val = ("str", text)
        else:
            raise PatternError("bad value %r" % text)
        if op in ("<", "<=", ">", ">=") and val[0] != "num":
            raise PatternError("relational operators need a number")
        return ("cond", sel, op, val)

    ast = or_expr()
    if pos[0] != len(toks):
        raise PatternError("trailing input %r" % (toks[pos[0]][1],))
    return ast


def glob_regex(s):
    return re.compile("".join(".*" if ch == "*" else re.escape(ch) for ch in s), re.S)


def selectors_of(ast, out):
    if ast[0] in ("or", "and"):
        for a in ast[1]:
            selectors_of(a, out)
    elif ast[1] not in out:
        out.append(ast[1])
    return out


# ---- Python compiler --------------------------------------------------------------------------
MISSING = object()


def _isnum(v):
    t = type(v)
    return (t is int) or (t is float and v == v and v not in (float("inf"), float("-inf")))


def _ntext(v):
    return str(v) if type(v) is int else repr(v)


def _num_eq(v, dec, text):
    if type(v) is str:
        return v == text
    if _isnum(v):
        try:
            return Decimal(v) == dec
        except InvalidOperation:
            return False
    return False


def _num_ne(v, dec, text):
    if type(v) is str:
        return v != text
    if _isnum(v):
        try:
            return Decimal(v) != dec
        except InvalidOperation:
            return False
    return False


def _wild(d, sel):
    """(parent exists, [values]) for a selector with one wildcard."""
    v = d
    i = 0
    while sel[i] is not WILD:
        k = sel[i]
        if type(k) is str:
            v = v.get(k, MISSING) if type(v) is dict else MISSING
        else:
            v = v[k] if type(v) is list and k < len(v) else MISSING
        if v is MISSING:
            return (False, [])
        i += 1
    kids = list(v.values()) if type(v) is dict else (list(v) if type(v) is list else [])
    rest = sel[i + 1:]
    vals = []
    for x in kids:
        for k in rest:
            if type(k) is str:
                x = x.get(k, MISSING) if type(x) is dict else MISSING
            else:
                x = x[k] if type(x) is list and k < len(x) else MISSING
            if x is MISSING:
                break
        if x is not MISSING:
            vals.append(x)
    return (True, vals)


class PyCompiler:
    def __init__(self):
        self.ns = {"M": MISSING, "_isnum": _isnum, "_ntext": _ntext, "_num_eq": _num_eq, "_num_ne": _num_ne,
                   "_wild": _wild, "Decimal": Decimal}
        self.k = 0

    def const(self, v):
        name = "K%d" % self.k
        self.k += 1
        self.ns[name] = v
        return name

    def scalar_eq(self, x, val):
        """Python expression: value x satisfies `= val` (x is a variable name)."""
        kind = val[0]
        if kind == "any":
            return "(type(%s) is str or _isnum(%s))" % (x, x)
        if kind == "str":
            s = val[1]
            if "*" not in s:
                k = self.const(s)
                return "((%s == %s) if type(%s) is str else (_isnum(%s) and _ntext(%s) == %s))" % (x, k, x, x, x, k)
            body = s.strip("*")
            if s.count("*") == 1 and s.endswith("*"):
                k = self.const(body)
                return "(%s.startswith(%s) if type(%s) is str else (_isnum(%s) and _ntext(%s).startswith(%s)))" % (x, k, x, x, x, k)
            if s.count("*") == 1 and s.startswith("*"):
                k = self.const(body)
                return "(%s.endswith(%s) if type(%s) is str else (_isnum(%s) and _ntext(%s).endswith(%s)))" % (x, k, x, x, x, k)
            k = self.const(glob_regex(s))
            return "((%s.fullmatch(%s) is not None) if type(%s) is str else (_isnum(%s) and %s.fullmatch(_ntext(%s)) is not None))" % (k, x, x, x, k, x)
        if kind == "num":
            return "_num_eq(%s, %s, %s)" % (x, self.const(Decimal(val[1])), self.const(val[1]))
        if kind == "re":
            k = self.const(re.compile(val[1]))
            return "((%s.search(%s) is not None) if type(%s) is str else (_isnum(%s) and %s.search(_ntext(%s)) is not None))" % (k, x, x, x, k, x)
        raise PatternError(kind)

    def scalar(self, x, op, val):
        if op == "=":
            return self.scalar_eq(x, val)
        if op == "!=":
            if val[0] == "num":
                return "_num_ne(%s, %s, %s)" % (x, self.const(Decimal(val[1])), self.const(val[1]))
            if val[0] == "any":
                return "False"
            return "((type(%s) is str or _isnum(%s)) and not %s)" % (x, x, self.scalar_eq(x, val))
        if op in ("<", "<=", ">", ">="):
            return "(_isnum(%s) and Decimal(%s) %s %s)" % (x, x, op, self.const(Decimal(val[1])))
        if op == "isnull":
            return "(%s is None or (type(%s) is list and None in %s))" % (x, x, x)
        if op == "istrue":
            return "(%s is True)" % x
        if op == "isfalse":
            return "(%s is False)" % x
        raise PatternError(op)

    def expr(self, ast, var_of):
        kind = ast[0]
        if kind == "or":
            # an OR of plain equalities on one selector becomes a set lookup
            groups, rest = {}, []
            for a in ast[1]:
                if a[0] == "cond" and a[2] == "=" and a[3][0] == "str" and "*" not in a[3][1] and WILD not in a[1]:
                    groups.setdefault(a[1], []).append(a[3][1])
                else:
                    rest.append(a)
            parts = []
            for sel, lits in groups.items():
                x = var_of[sel]
                if len(lits) == 1:
                    parts.append(self.scalar_eq(x, ("str", lits[0])))
                else:
                    k = self.const(frozenset(lits))
                    parts.append("((%s in %s) if type(%s) is str else (_isnum(%s) and _ntext(%s) in %s))" % (x, k, x, x, x, k))
            parts += [self.expr(a, var_of) for a in rest]
            return "(" + " or ".join(parts) + ")"
        if kind == "and":
            return "(" + " and ".join(self.expr(a, var_of) for a in ast[1]) + ")"
        _, sel, op, val = ast
        x = var_of[sel]
        if WILD in sel:
            if op == "notexists":
                return "(not %s[1])" % x
            if op == "!=":
                return "(%s[0] and not any(%s for v in %s[1]))" % (x, self.scalar_eq("v", val) if val[0] != "num" else "_num_eq(v, %s, %s)" % (self.const(Decimal(val[1])), self.const(val[1])), x)
            return "any(%s for v in %s[1])" % (self.scalar("v", op, val), x)
        if op == "notexists":
            return "(%s is M)" % x
        return self.scalar(x, op, val)

    def compile(self, asts):
        sels = []
        for a in asts:
            selectors_of(a, sels)
        var_of, lines = {}, []
        for i, sel in enumerate(sels):
            v = "s%d" % i
            var_of[sel] = v
            if WILD in sel:
                lines.append("    %s = _wild(d, %s)" % (v, self.const(sel)))
                continue
            src = "d"
            for j, k in enumerate(sel):
                if type(k) is str:
                    if j == 0:
                        lines.append("    %s = d.get(%r, M)" % (v, k))
                    else:
                        lines.append("    %s = %s.get(%r, M) if type(%s) is dict else M" % (v, v, k, v))
                else:
                    if j == 0:
                        raise PatternError("a selector cannot start with an index")
                    lines.append("    %s = %s[%d] if type(%s) is list and len(%s) > %d else M" % (v, v, k, v, v, k))
                src = v
        body = ["def _evaluate(d):", "    if type(d) is not dict:", "        return NONE"] + lines
        body.append("    return (" + ", ".join(self.expr(a, var_of) for a in asts) + ",)")
        self.ns["NONE"] = (False,) * len(asts)
        code = "\n".join(body)
        exec(compile(code, "<filters>", "exec"), self.ns)
        return self.ns["_evaluate"], code


def load_filters(path):
    """[(filterName, filterPattern, metricValue)] from `aws logs describe-metric-filters` JSON."""
    with open(path) as f:
        doc = json.load(f)
    out = []
    for mf in doc["metricFilters"]:
        mt = (mf.get("metricTransformations") or [{}])[0]
        out.append((mf["filterName"], mf["filterPattern"], mt.get("metricValue", "1")))
    return out


def python_evaluator(filters):
    asts = [parse_pattern(p) for _, p, _ in filters]
    fn, code = PyCompiler().compile(asts)
    return fn, code


def python_baseline_main(argv):
    """Child process: the Python stdlib loop.  Reads NDJSON on stdin, prints counts as JSON."""
    ap = argparse.ArgumentParser(prog="e2e.py _python-baseline")
    ap.add_argument("--filters", required=True)
    a = ap.parse_args(argv)
    filters = load_filters(a.filters)
    evaluate, _ = python_evaluator(filters)
    n = len(filters)
    counts = [0] * n
    loads = json.loads
    records = invalid = 0
    rng = range(n)
    for line in sys.stdin.buffer:
        records += 1
        try:
            d = loads(line)
        except ValueError:
            invalid += 1
            continue
        res = evaluate(d)
        if True in res:
            for i in rng:
                if res[i]:
                    counts[i] += 1
    json.dump({"records": records, "invalid": invalid,
               "counts": {filters[i][0]: counts[i] for i in rng}}, sys.stdout)
    sys.stdout.write("\n")


def python_matches(path, filters, which):
    """Line numbers (1-based) matching filter index `which`, plus the byte offset of every line."""
    evaluate, _ = python_evaluator(filters)
    hits, offsets = [], []
    pos = 0
    with open(path, "rb") as f:
        for no, line in enumerate(f, 1):
            offsets.append(pos)
            pos += len(line)
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if evaluate(d)[which]:
                hits.append(no)
    offsets.append(pos)
    return hits, offsets


# ---- receivers for the --extras forwarding rows (child process: e2e.py _receiver) --------------
def receiver_main(argv):
    """Child process: a TCP or HTTP/1.1 receiver for the forwarding rows.

    Listens on 127.0.0.1 (a free port), prints {"port": P} on stdout, reads and discards everything
    it is sent (one thread per connection, large receive buffers), counting newline bytes; the HTTP
    receiver reads the headers, then Content-Length (or chunked) bytes, gunzips when
    Content-Encoding: gzip, counts lines and answers `HTTP/1.1 200 OK` with Content-Length 0,
    keeping the connection open.  When its stdin closes it waits until every connection has ended
    (or --drain seconds), then prints its counts and its own CPU time as JSON."""
    import gzip as gzip_mod
    import socket
    ap = argparse.ArgumentParser(prog="e2e.py _receiver")
    ap.add_argument("--kind", choices=("tcp", "http"), required=True)
    ap.add_argument("--drain", type=float, default=60.0, help="seconds to wait for open connections after stdin closes")
    ap.add_argument("--rcvbuf", type=int, default=8 << 20)
    a = ap.parse_args(argv)
    cond = threading.Condition()
    st = {"kind": a.kind, "connections": 0, "requests": 0, "gzip_requests": 0, "wire_bytes": 0, "body_bytes": 0,
          "lines": 0, "unterminated": 0, "max_body": 0, "errors": [], "first": None, "last": None, "sample": None}
    active = [0]

    def newlines(b, n):
        """Newline bytes in b[:n]: a find() loop (memchr) is about 5× faster than bytearray.count here."""
        c, find = 0, b.find
        i = find(10, 0, n)
        while i >= 0:
            c += 1
            i = find(10, i + 1, n)
        return c

    def merge(loc):
        with cond:
            for k in ("requests", "gzip_requests", "wire_bytes", "body_bytes", "lines", "unterminated"):
                st[k] += loc[k]
            st["max_body"] = max(st["max_body"], loc["max_body"])
            if loc["first"] is not None:
                st["first"] = loc["first"] if st["first"] is None else min(st["first"], loc["first"])
                st["last"] = loc["last"] if st["last"] is None else max(st["last"], loc["last"])
            if st["sample"] is None and loc["sample"]:
                st["sample"] = loc["sample"]
            if loc.get("error") and len(st["errors"]) < 10:
                st["errors"].append(loc["error"])
            active[0] -= 1
            cond.notify_all()

    def tcp_conn(c, loc):
        buf = bytearray(4 << 20)
        last_byte = 10
        while True:
            k = c.recv_into(buf)
            if not k:
                break
            now = time.monotonic()
            if loc["first"] is None:
                loc["first"] = now
                loc["sample"] = bytes(buf[:min(k, 300)]).decode("utf-8", "replace")
            loc["last"] = now
            loc["wire_bytes"] += k
            loc["lines"] += newlines(buf, k)
            last_byte = buf[k - 1]
        loc["body_bytes"] = loc["wire_bytes"]
        if last_byte != 10:
            loc["unterminated"] += 1
            loc["lines"] += 1

    def http_conn(c, loc):
        f = c.makefile("rb", buffering=1 << 20)
        while True:
            line = f.readline(65537)
            if not line:
                break
            if line in (b"\r\n", b"\n"):
                continue
            if len(line.split()) != 3:
                raise ValueError("bad request line %r" % line[:100])
            headers = {}
            while True:
                h = f.readline(65537)
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.partition(b":")
                headers[k.strip().lower()] = v.strip()
            if headers.get(b"expect", b"").lower() == b"100-continue":
                c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
                parts = []
                while True:
                    size = int(f.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while f.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    parts.append(f.read(size))
                    f.readline()
                body = b"".join(parts)
            else:
                want = int(headers.get(b"content-length", b"0"))
                body = f.read(want)
                if len(body) != want:
                    raise ValueError("connection ended %d bytes into a %d-byte body" % (len(body), want))
            now = time.monotonic()
            if loc["first"] is None:
                loc["first"] = now
            loc["wire_bytes"] += len(body)
            if headers.get(b"content-encoding", b"").lower() == b"gzip":
                body = gzip_mod.decompress(body)
                loc["gzip_requests"] += 1
            loc["requests"] += 1
            loc["body_bytes"] += len(body)
            loc["max_body"] = max(loc["max_body"], len(body))
            if body:
                loc["lines"] += newlines(body, len(body))
                if body[-1] != 10:
                    loc["unterminated"] += 1
                    loc["lines"] += 1
            if loc["sample"] is None and body:
                loc["sample"] = body[:300].decode("utf-8", "replace")
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            loc["last"] = time.monotonic()
            if headers.get(b"connection", b"").lower() == b"close":
                break

    def handle(c):
        loc = {"requests": 0, "gzip_requests": 0, "wire_bytes": 0, "body_bytes": 0, "lines": 0, "unterminated": 0,
               "max_body": 0, "first": None, "last": None, "sample": None}
        try:
            (tcp_conn if a.kind == "tcp" else http_conn)(c, loc)
        except Exception as e:   # noqa: BLE001
            loc["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            try:
                c.close()
            except OSError:
                pass
            merge(loc)

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)     # inherited by accepted sockets
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)

    def accept_loop():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            with cond:
                active[0] += 1
                st["connections"] += 1
            threading.Thread(target=handle, args=(c,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    sys.stdout.write(json.dumps({"port": srv.getsockname()[1]}) + "\n")
    sys.stdout.flush()
    sys.stdin.buffer.read()                       # the harness closes it when the sender has exited
    time.sleep(0.2)                               # let a connection still in the backlog be accepted
    deadline = time.monotonic() + a.drain
    with cond:
        while active[0] > 0 and time.monotonic() < deadline:
            cond.wait(max(0.01, deadline - time.monotonic()))
        st["open_at_end"] = active[0]
    srv.close()
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    with cond:
        st["cpu"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
        st["active_seconds"] = (st["last"] - st["first"]) if st["first"] is not None else 0.0
        st["maxrss_mb"] = ru1.ru_maxrss * 1024 / MB
        sys.stdout.write(json.dumps(st) + "\n")
        sys.stdout.flush()
    os._exit(0)                                   # do not wait for handler threads still blocked


# ---- jq compiler ------------------------------------------------------------------------------
JQ_PRELUDE = r'''
def sel($p): reduce $p[] as $k ([.];
  if length == 0 then .
  else .[0] as $v
  | if ($k | type) == "string" then (if ($v | type) == "object" and ($v | has($k)) then [$v[$k]] else [] end)
    else (if ($v | type) == "array" and $k < ($v | length) then [$v[$k]] else [] end) end
  end);
'''


class JqCompiler:
    def __init__(self):
        self.defs = []
        self.k = 0

    def scalar_eq(self, val):
        """jq filter: input is the value, output boolean."""
        kind = val[0]
        if kind == "any":
            return '(type == "string" or type == "number")'
        if kind == "str":
            s = val[1]
            if "*" not in s:
                js = json.dumps(s)
                return '(if type == "string" then . == %s elif type == "number" then tostring == %s else false end)' % (js, js)
            body = json.dumps(s.strip("*"))
            if s.count("*") == 1 and s.endswith("*"):
                f = "startswith(%s)" % body
            elif s.count("*") == 1 and s.startswith("*"):
                f = "endswith(%s)" % body
            else:
                f = "test(%s)" % json.dumps("^" + "".join(".*" if ch == "*" else re.escape(ch) for ch in s) + "$")
            return '(if type == "string" then %s elif type == "number" then (tostring | %s) else false end)' % (f, f)
        if kind == "num":
            return '(if type == "number" then . == %s elif type == "string" then . == %s else false end)' % (val[1], json.dumps(val[1]))
        if kind == "re":
            f = "test(%s)" % json.dumps(val[1])
            return '(if type == "string" then %s elif type == "number" then (tostring | %s) else false end)' % (f, f)
        raise PatternError(kind)

    def scalar(self, op, val):
        if op == "=":
            return self.scalar_eq(val)
        if op == "!=":
            if val[0] == "any":
                return "false"
            return '((type == "string" or type == "number") and (%s | not))' % self.scalar_eq(val)
        if op in ("<", "<=", ">", ">="):
            return '(type == "number" and . %s %s)' % (op, val[1])
        if op == "isnull":
            return '(. == null or (type == "array" and any(.[]; . == null)))'
        if op == "istrue":
            return "(. == true)"
        if op == "isfalse":
            return "(. == false)"
        raise PatternError(op)

    def expr(self, ast, var_of):
        kind = ast[0]
        if kind in ("or", "and"):
            if kind == "or":
                groups, rest = {}, []
                for a in ast[1]:
                    if a[0] == "cond" and a[2] == "=" and a[3][0] == "str" and "*" not in a[3][1]:
                        groups.setdefault(a[1], []).append(a[3][1])
                    else:
                        rest.append(a)
                parts = []
                for sel, lits in groups.items():
                    name = "$SET%d" % self.k
                    self.k += 1
                    self.defs.append("%s as %s" % (json.dumps({l: True for l in lits}, separators=(",", ":")), name))
                    parts.append('(%s | length == 1 and (.[0] | if type == "string" then (. as $v | %s | has($v)) '
                                 'elif type == "number" then (tostring as $v | %s | has($v)) else false end))' % (var_of[sel], name, name))
                parts += [self.expr(a, var_of) for a in rest]
                return "(" + " or ".join(parts) + ")"
            return "(" + " and ".join(self.expr(a, var_of) for a in ast[1]) + ")"
        _, sel, op, val = ast
        if WILD in sel:
            raise PatternError("wildcard selectors are not supported by the jq baseline")
        x = var_of[sel]
        if op == "notexists":
            return "(%s | length == 0)" % x
        return "(%s | length == 1 and (.[0] | %s))" % (x, self.scalar(op, val))

    def compile(self, filters):
        asts = [parse_pattern(p) for _, p, _ in filters]
        sels = []
        for a in asts:
            selectors_of(a, sels)
        var_of = {s: "$s%d" % i for i, s in enumerate(sels)}
        binds = " | ".join("(sel(%s)) as %s" % (json.dumps(list(s)), var_of[s]) for s in sels)
        emits = ", ".join("(if %s then %s else empty end)" % (self.expr(a, var_of), json.dumps(filters[i][0])) for i, a in enumerate(asts))
        prog = JQ_PRELUDE
        if self.defs:
            prog += " | ".join(self.defs) + " |\n"
        prog += "reduce (inputs | select(type == \"object\") | %s | %s) as $n ({}; .[$n] += 1)\n" % (binds, emits)
        return prog


# =============================================================================================
# Measured runs
# =============================================================================================
def _vmhwm_kb(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def run_measured(cmd, stdin_path=None, stdout_path=None, stderr_path=None, timeout=600.0, env=None, stdout_tail=None):
    """Run cmd; return dict(wall, user, sys, cpu, maxrss_mb, rss_mb, rss_how, rc, timed_out).

    Times and ru_maxrss come from os.wait4.  Linux starts a child's ru_maxrss at the parent's own
    peak RSS (the high-water mark survives fork/vfork + exec), so when ru_maxrss does not exceed this
    process's peak at spawn time, the child's real peak is taken from /proc/PID/status VmHWM (which a
    new program starts afresh), sampled every 10 ms while it runs: then rss_how is "sampled".
    stdout_tail=N: stdout is a pipe that a thread reads and discards, keeping only its last N bytes
    (returned as "tail")."""
    floor_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb") if stdout_path else (subprocess.PIPE if stdout_tail else subprocess.DEVNULL)
    tail = [b""]
    reader = None
    ferr = open(stderr_path, "wb") if stderr_path else subprocess.DEVNULL
    timed_out = [False]
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=ferr, start_new_session=True, env=env)
        done = threading.Event()
        if fout is subprocess.PIPE:
            def drain():
                fd = p.stdout.fileno()
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        return
                    tail[0] = (tail[0] + chunk)[-stdout_tail:]

            reader = threading.Thread(target=drain, daemon=True)
            reader.start()
        hwm = [0]

        def sample():
            while not done.wait(0.01):
                v = _vmhwm_kb(p.pid)
                if v:
                    hwm[0] = max(hwm[0], v)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        def kill():
            if not done.is_set():
                timed_out[0] = True
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        t1 = time.perf_counter()
        done.set()
        timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        if reader is not None:
            reader.join(10)
            p.stdout.close()
    finally:
        for f in (fin, fout, ferr):
            if f is not subprocess.DEVNULL and f is not subprocess.PIPE:
                f.close()
    if ru.ru_maxrss > floor_kb + 4096 or not hwm[0]:     # 4 MB of slack: the vfork child adds a little
        rss, how = ru.ru_maxrss, "ru_maxrss"
    else:
        rss, how = hwm[0], "sampled"
    return {"wall": t1 - t0, "user": ru.ru_utime, "sys": ru.ru_stime, "cpu": ru.ru_utime + ru.ru_stime,
            "maxrss_mb": ru.ru_maxrss * 1024 / MB, "floor_mb": floor_kb * 1024 / MB, "rss_mb": rss * 1024 / MB, "rss_how": how,
            "rc": p.returncode, "timed_out": timed_out[0], "tail": tail[0]}


def sha256_file(path):
    """In chunks: a child's ru_maxrss starts at this process's own peak RSS, so keep that peak small."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_prometheus(path):
    """{metric: {label-tuple: value}} from a Prometheus text file."""
    out = {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
    lab_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            m = line_re.match(line)
            if not m:
                continue
            labels = tuple(sorted(lab_re.findall(m.group(2) or "")))
            out.setdefault(m.group(1), {})[labels] = float(m.group(3))
    return out


def trailwatch_counts(prom, names):
    """Per-filter values of the filter metrics (any metric with a `filter` label that is not trailwatch_*),
    and trailwatch_filter_matches_total."""
    metric_counts, matches = {}, {}
    for metric, series in prom.items():
        for labels, v in series.items():
            ld = dict(labels)
            if "filter" not in ld:
                continue
            if metric == "trailwatch_filter_matches_total":
                matches[ld["filter"]] = matches.get(ld["filter"], 0) + v
            elif not metric.startswith("trailwatch_") and metric.endswith("_total"):
                metric_counts[ld["filter"]] = metric_counts.get(ld["filter"], 0) + v
    return ({n: int(metric_counts.get(n, 0)) for n in names}, {n: int(matches.get(n, 0)) for n in names})


def prom_value(prom, metric, **labels):
    series = prom.get(metric, {})
    want = tuple(sorted(labels.items()))
    if want in series:
        return series[want]
    return sum(v for k, v in series.items() if all(x in k for x in want)) if series else None


# =============================================================================================
class Harness:
    def __init__(self, a):
        self.a = a
        self.workdir = os.path.abspath(a.workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.rows = []
        self.problems = []
        self.notes = []
        self.counts = {}          # tool label -> {filter: count}
        self.deadline = time.monotonic() + a.max_minutes * 60

    # ---- setup ---------------------------------------------------------------------------------
    def log(self, *msg):
        print(*msg, flush=True)

    def remaining(self):
        return self.deadline - time.monotonic()

    def timeout_for(self, size):
        t = self.a.timeout or max(120.0, 60.0 + size / MB / 2.0)    # at least 2 MB/s, or give up
        return max(5.0, min(t, self.remaining()))

    def workload(self):
        gh = sha256_file(GENERATOR)[:10]
        path = os.path.join(self.workdir, "cloudtrail-%d-s%d-%s.ndjson" % (self.a.records, self.a.seed, gh))
        if os.path.exists(path) and os.path.getsize(path) > 0:
            self.log("workload: cached %s" % path)
            return path
        for old in os.listdir(self.workdir):      # older generator versions of the same workload
            if old.startswith("cloudtrail-%d-s%d-" % (self.a.records, self.a.seed)) and old.endswith(".ndjson") and not self.a.keep:
                os.unlink(os.path.join(self.workdir, old))
        tmp = path + ".tmp"
        self.log("workload: generating %d records (seed %d) ..." % (self.a.records, self.a.seed))
        t = self.a.timeout or max(120.0, self.a.records / 4000.0)
        r = run_measured([self.a.python, GENERATOR, "--count", str(self.a.records), "--seed", str(self.a.seed), "--out", tmp],
                         stderr_path=os.path.join(self.workdir, "gen.stderr"), timeout=t)
        if r["rc"] != 0 or r["timed_out"]:
            raise SystemExit("generator failed (rc %s, timed out %s); see %s/gen.stderr" % (r["rc"], r["timed_out"], self.workdir))
        os.replace(tmp, path)
        self.log("workload: %d records in %.1f s" % (self.a.records, r["wall"]))
        return path

    def filters_file(self):
        if self.a.filters == "cis":
            return CIS_FILE, []
        with open(CIS_FILE) as f:
            doc = json.load(f)
        by = {m["filterName"]: m for m in doc["metricFilters"]}
        five = {"metricFilters": [by[n] for n in FIVE]}
        path = os.path.join(self.workdir, "filters-five.json")
        with open(path, "w") as f:
            json.dump(five, f, indent=2)
        return path, ["--aws-metric-filters", path]

    def selftest_filters(self, fpath):
        """--selftest-mismatch: give the service a pack whose unauthorized-calls pattern lost its
        `AccessDenied*` glob, so the MISMATCH path and the bisection can be seen working."""
        with open(fpath) as f:
            doc = json.load(f)
        for mf in doc["metricFilters"]:
            if mf["filterName"] == "unauthorized_api_calls_metric":
                mf["filterPattern"] = mf["filterPattern"].replace('"AccessDenied*"', '"AccessDenied"')
        path = os.path.join(self.workdir, "filters-selftest.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=2)
        self.notes.append("--selftest-mismatch: the service ran %s, in which AccessDenied* lost its glob" % path)
        return ["--aws-metric-filters", path]

    def snapshot_trailwatch(self):
        src = self.a.trailwatch
        for i in range(60):                          # it is rebuilt from time to time: wait for it
            if os.path.isfile(src) and os.access(src, os.X_OK):
                break
            if i == 0:
                self.log("waiting for %s ..." % src)
            time.sleep(5)
        else:
            raise SystemExit("no trailwatch binary at %s" % src)
        time.sleep(0.5)
        dst = os.path.join(self.workdir, "trailwatch.bin")
        shutil.copy2(src, dst + ".tmp")              # run a private copy: a rebuild mid-run changes nothing
        os.replace(dst + ".tmp", dst)
        self.tw_sha = sha256_file(dst)[:12]
        self.tw_mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(src)))
        try:
            self.tw_version = subprocess.run([dst, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception as e:   # noqa: BLE001
            self.tw_version = "? (%s)" % e
        return dst

    # ---- rows ----------------------------------------------------------------------------------
    def add_row(self, tool, threads, r, records, size, counts_ok, note=""):
        row = {"tool": tool, "threads": threads, "r": r, "records": records, "size": size, "ok": counts_ok, "note": note}
        self.rows.append(row)
        if r:
            self.log("  %-26s wall %7.2fs  cpu %7.2fs  rss %7.1f MB (%s)  rc %s%s" % (
                tool + ("" if threads in ("", None) else " T=%s" % threads), r["wall"], r["cpu"], r["rss_mb"], r["rss_how"], r["rc"],
                "  TIMEOUT" if r["timed_out"] else ""))
        else:
            self.log("  %-22s %s" % (tool, note or counts_ok))
        return row

    def compare(self, label, counts, names):
        ref = self.counts.get("python")
        if ref is None:
            return "?"
        bad = [n for n in names if counts.get(n) != ref.get(n)]
        if bad:
            for n in bad:
                self.problems.append("MISMATCH %s vs Python loop: %s: %s vs %s" % (label, n, counts.get(n), ref.get(n)))
            return "MISMATCH"
        return "yes"

    # ---- the run -------------------------------------------------------------------------------
    def run(self):
        a = self.a
        self.print_machine()
        data = self.workload()
        size = os.path.getsize(data)
        n = a.records
        self.size, self.data = size, data
        fpath, fflags = self.filters_file()
        filters = load_filters(fpath)
        if a.selftest_mismatch:
            fflags = self.selftest_filters(fpath)
        names = [f[0] for f in filters]
        self.names, self.filters = names, filters
        tw = self.snapshot_trailwatch()
        self.log("trailwatch: %s (sha256 %s, built %s)" % (self.tw_version, self.tw_sha, self.tw_mtime))
        self.log("workload: %s, %d records, %.1f MB, %.0f bytes/record" % (data, n, size / MB, size / n))
        self.log("filters: %s (%d): %s" % (a.filters, len(names), fpath))
        self.log("")

        # warm the page cache (not reported), then the hardware references
        run_measured(["cat", data], timeout=self.timeout_for(size))
        r = run_measured(["cat", data], timeout=self.timeout_for(size))
        self.add_row("cat FILE > /dev/null", "", r, n, size, "n/a")
        out = os.path.join(self.workdir, "wc.out")
        r = run_measured(["wc", "-l"], stdin_path=data, stdout_path=out, timeout=self.timeout_for(size))
        with open(out) as f:
            lines = int(f.read().split()[0])
        self.add_row("wc -l < FILE", "", r, n, size, "n/a", "%d lines" % lines)
        if lines != n:
            self.problems.append("wc -l counted %d lines, expected %d" % (lines, n))

        # the Python loop first: it is the reference for the count checks
        pout = os.path.join(self.workdir, "python.out")
        r = run_measured([a.python, os.path.abspath(__file__), "_python-baseline", "--filters", fpath], stdin_path=data,
                         stdout_path=pout, stderr_path=os.path.join(self.workdir, "python.stderr"), timeout=self.timeout_for(size))
        py = None
        if r["rc"] == 0 and not r["timed_out"]:
            with open(pout) as f:
                py = json.load(f)
            self.counts["python"] = py["counts"]
            if py["records"] != n or py["invalid"]:
                self.problems.append("Python loop read %d records (%d invalid JSON), expected %d" % (py["records"], py["invalid"], n))
            ok = "reference"
        else:
            ok = "error"
            self.problems.append("Python loop failed (rc %s, timed out %s): see %s/python.stderr" % (r["rc"], r["timed_out"], self.workdir))
        py_row = self.add_row("Python json.loads loop", 1, r, n, size, ok, os.path.basename(a.python) + " " + platform.python_version())

        # trailwatch, per thread count
        self.tw_rows = {}
        for t in a.threads:
            if self.remaining() < 10:
                self.add_row("trailwatch", t, None, n, size, "skipped", "out of time (--max-minutes)")
                continue
            mout = os.path.join(self.workdir, "trailwatch-t%d.prom" % t)
            if os.path.exists(mout):
                os.unlink(mout)
            cmd = [tw, "--stdin", "--metrics-addr", "none", "--metrics-out", mout, "--threads", str(t)] + fflags + a.tw_arg
            self.tw_cmd = cmd
            r = run_measured(cmd, stdin_path=data, stderr_path=os.path.join(self.workdir, "trailwatch-t%d.stderr" % t),
                             timeout=self.timeout_for(size), env=dict(os.environ, TRAILWATCH_LOG=os.environ.get("TRAILWATCH_LOG", "warn")))
            ok = "error"
            if r["rc"] == 0 and not r["timed_out"] and os.path.exists(mout):
                prom = parse_prometheus(mout)
                counts, matches = trailwatch_counts(prom, names)
                self.counts["trailwatch T=%d" % t] = counts
                ok = self.compare("trailwatch --threads %d" % t, counts, names)
                if counts != matches:
                    self.problems.append("trailwatch T=%d: filter metric values differ from trailwatch_filter_matches_total: %s vs %s" % (t, counts, matches))
                    ok = "MISMATCH"
                ev = prom_value(prom, "trailwatch_events_evaluated_total")
                rej = prom_value(prom, "trailwatch_events_rejected_total") or 0
                if ev != n or rej:
                    self.problems.append("trailwatch T=%d evaluated %s events and rejected %s, expected %d and 0" % (t, ev, rej, n))
                    ok = "MISMATCH"
            else:
                self.problems.append("trailwatch T=%d failed (rc %s, timed out %s): see %s" % (
                    t, r["rc"], r["timed_out"], os.path.join(self.workdir, "trailwatch-t%d.stderr" % t)))
            self.tw_rows[t] = self.add_row("trailwatch", t, r, n, size, ok)

        # other tools
        self.run_jq(data, size, n, filters, names)
        for tool in ("mtail", "fluent-bit", "vector"):
            if shutil.which(tool):
                self.add_row(tool, "", None, n, size, "not run",
                             "installed, but this harness has no %s configuration yet (it was written on a machine without %s)" % (tool, tool))
                self.notes.append("%s is installed but was not run: no configuration for it here." % tool)
            else:
                self.add_row(tool, "", None, n, size, "not installed", "not installed")

        # independent check with test-pattern
        self.test_pattern_check(tw, data, size, filters, names)

        # --extras: forwarding, backfill and test-pattern rows
        if a.extras:
            self.run_extras(tw, data, size, n, fflags)

        # investigate mismatches
        if any(p.startswith("MISMATCH trailwatch") for p in self.problems) and not a.no_investigate:
            self.investigate(tw, data, fflags, filters, names)

        self.machine.append(("load average at end", "%.2f %.2f %.2f" % os.getloadavg()))
        self.report(py_row)
        return 1 if self.problems else 0

    def run_jq(self, data, size, n, filters, names):
        jq = shutil.which("jq")
        if not jq:
            self.add_row("jq", "", None, n, size, "not installed", "not installed")
            return
        if self.remaining() < 10:
            self.add_row("jq", "", None, n, size, "skipped", "out of time (--max-minutes)")
            return
        try:
            prog = JqCompiler().compile(filters)
        except PatternError as e:
            self.add_row("jq", "", None, n, size, "n/a", "pattern not expressible: %s" % e)
            return
        ppath = os.path.join(self.workdir, "filters.jq")
        with open(ppath, "w") as f:
            f.write(prog)
        out = os.path.join(self.workdir, "jq.out")
        r = run_measured([jq, "-n", "-c", "-f", ppath], stdin_path=data, stdout_path=out,
                         stderr_path=os.path.join(self.workdir, "jq.stderr"), timeout=self.timeout_for(size))
        ver = subprocess.run([jq, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
        if r["rc"] == 0 and not r["timed_out"]:
            with open(out) as f:
                got = json.load(f)
            counts = {nm: int(got.get(nm, 0)) for nm in names}
            self.counts["jq"] = counts
            ok = self.compare("jq", counts, names)
        else:
            ok = "error"
            self.problems.append("jq failed (rc %s, timed out %s): see %s/jq.stderr" % (r["rc"], r["timed_out"], self.workdir))
        self.add_row("jq", 1, r, n, size, ok, ver)

    def test_pattern_check(self, tw, data, size, filters, names):
        name = self.a.check_filter if self.a.check_filter in names else names[min(1, len(names) - 1)]
        pattern = dict((f[0], f[1]) for f in filters)[name]
        out = os.path.join(self.workdir, "test-pattern.out")
        self.log("independent check: trailwatch test-pattern --format json <%s> FILE" % name)
        r = run_measured([tw, "test-pattern", "--format", "json", pattern, data], stdout_path=out,
                         stderr_path=os.path.join(self.workdir, "test-pattern.stderr"), timeout=self.timeout_for(size) * 2)
        self.tp = {"filter": name, "r": r, "count": None}
        if r["rc"] != 0 or r["timed_out"]:
            self.problems.append("test-pattern failed (rc %s, timed out %s): see %s/test-pattern.stderr" % (r["rc"], r["timed_out"], self.workdir))
            return
        cnt = events = 0
        with open(out, "rb") as f:
            for line in f:
                events += 1
                if b'"match":true' in line:
                    cnt += 1
        self.tp["count"] = cnt
        self.log("  test-pattern: %d of %d events match (%.1f s)" % (cnt, events, r["wall"]))
        ref = self.counts.get("python", {}).get(name)
        if events != self.a.records:
            self.problems.append("test-pattern printed %d results for %d records" % (events, self.a.records))
        if ref is not None and cnt != ref:
            self.problems.append("MISMATCH test-pattern vs Python loop: %s: %d vs %d" % (name, cnt, ref))
            self.tp["ok"] = "MISMATCH"
        else:
            self.tp["ok"] = "yes"

    # ---- --extras: forwarding, backfill, test-pattern --------------------------------------------
    def extra_row(self, tool, threads, r, records, size, ok, cmd, other="", ratio=None, kind=""):
        row = {"tool": tool, "threads": threads, "r": r, "records": records, "size": size, "ok": ok, "cmd": cmd,
               "other": other, "ratio": ratio, "kind": kind}
        self.extra_rows.append(row)
        if r:
            self.log("  %-30s wall %7.2fs  cpu %7.2fs  rss %7.1f MB (%s)  rc %s%s  %s%s" % (
                tool + ("" if threads in ("", None) else " T=%s" % threads), r["wall"], r["cpu"], r["rss_mb"], r["rss_how"],
                r["rc"], "  TIMEOUT" if r["timed_out"] else "", ok, ("  " + other) if other else ""))
        else:
            self.log("  %-30s %s" % (tool, ok))
        return row

    def ref_counts(self, t):
        """The metrics-only stdin run's counts for thread count t (else any thread count, else Python)."""
        c = self.counts.get("trailwatch T=%d" % t)
        if c is None:
            c = next((self.counts[k] for k in sorted(self.counts) if k.startswith("trailwatch")), None)
        return c if c is not None else self.counts.get("python")

    def check_service(self, label, mout, r, t, n, stderr):
        """Counts of a trailwatch service run against the metrics-only run; (ok text, prom or None)."""
        if r["timed_out"] or r["rc"] != 0 or not os.path.exists(mout):
            self.problems.append("%s failed (rc %s, timed out %s): see %s" % (label, r["rc"], r["timed_out"], stderr))
            return "error", None
        prom = parse_prometheus(mout)
        counts, matches = trailwatch_counts(prom, self.names)
        ref = self.ref_counts(t)
        bad = []
        if ref is None:
            bad.append("no reference counts")
        else:
            bad += ["%s: %s vs %s" % (nm, counts.get(nm), ref.get(nm)) for nm in self.names if counts.get(nm) != ref.get(nm)]
        if counts != matches:
            bad.append("filter metrics differ from trailwatch_filter_matches_total")
        ev = prom_value(prom, "trailwatch_events_evaluated_total")
        rej = prom_value(prom, "trailwatch_events_rejected_total") or 0
        if ev != n or rej:
            bad.append("evaluated %s events, rejected %s (expected %d, 0)" % (ev, rej, n))
        if bad:
            for b in bad:
                self.problems.append("MISMATCH %s vs the metrics-only stdin run: %s" % (label, b))
            return "MISMATCH", prom
        return "yes", prom

    def start_receiver(self, kind):
        errpath = os.path.join(self.workdir, "receiver-%s.stderr" % kind)
        cmd = [sys.executable, os.path.abspath(__file__), "_receiver", "--kind", kind]
        with open(errpath, "wb") as ferr:
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=ferr, start_new_session=True)
        import select
        ready, _, _ = select.select([p.stdout], [], [], 30)
        line = os.read(p.stdout.fileno(), 4096) if ready else b""
        try:
            port = json.loads(line)["port"]
        except (ValueError, KeyError):
            self.kill_group(p)
            raise SystemExit("the %s receiver did not start (%r); see %s" % (kind, line[:200], errpath))
        return p, port, cmd

    def kill_group(self, p):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass

    def stop_receiver(self, p, kind):
        try:
            out, _ = p.communicate(input=b"", timeout=90)
            return json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError) as e:
            self.kill_group(p)
            self.problems.append("the %s receiver did not report its counts (%s)" % (kind, type(e).__name__))
            return None

    def run_extras(self, tw, data, size, n, fflags):
        self.extra_rows, self.extra_notes, self.extra_cmds = [], [], []
        self.log("")
        self.log("extras: forwarding, backfill, test-pattern")
        env = dict(os.environ, TRAILWATCH_LOG=os.environ.get("TRAILWATCH_LOG", "warn"))
        sinks = [("forward file:/dev/null", "file", None, None),
                 ("forward tcp", "tcp", "tcp", None),
                 ("forward http (none)", "http-none", "http", "none"),
                 ("forward http (gzip)", "http-gzip", "http", None)]
        self.http_config_text = {}
        for label, key, rkind, comp in sinks:
            for t in self.a.threads:
                if self.remaining() < 10:
                    self.extra_row(label, t, None, n, size, "skipped (out of time, --max-minutes)", None)
                    continue
                mout = os.path.join(self.workdir, "fwd-%s-t%d.prom" % (key, t))
                stderr = os.path.join(self.workdir, "fwd-%s-t%d.stderr" % (key, t))
                if os.path.exists(mout):
                    os.unlink(mout)
                rp, port, rcmd = (None, None, None)
                if rkind:
                    rp, port, rcmd = self.start_receiver(rkind)
                if key == "file":
                    sink_args = ["--forward", "file:/dev/null"]
                elif key == "tcp":
                    sink_args = ["--forward", "tcp://127.0.0.1:%d" % port]
                else:
                    cfg = os.path.join(self.workdir, "sink-%s.toml" % key)
                    text = '[[sinks]]\ntype = "http"\nurl = "http://127.0.0.1:%d/"\n' % port
                    if comp:
                        text += 'compression = "%s"\n' % comp
                    with open(cfg, "w") as f:
                        f.write(text)
                    self.http_config_text[cfg] = text.replace(str(port), "PORT")
                    sink_args = ["--config", cfg]
                cmd = [tw, "--stdin", "--metrics-addr", "none", "--metrics-out", mout, "--threads", str(t)] + sink_args + fflags + self.a.tw_arg
                try:
                    r = run_measured(cmd, stdin_path=data, stderr_path=stderr, timeout=self.timeout_for(size), env=env)
                finally:
                    st = self.stop_receiver(rp, rkind) if rp else None
                lab = "%s T=%d" % (label, t)
                ok, prom = self.check_service(lab, mout, r, t, n, stderr)
                other = []
                if prom is not None:
                    sent = prom_value(prom, "trailwatch_sink_events_total", outcome="sent")
                    bad_out = {o: prom_value(prom, "trailwatch_sink_events_total", outcome=o) or 0
                               for o in ("failed", "dropped", "dead_lettered", "retried")}
                    if sent != n:
                        self.problems.append("%s: the sink reports %s events sent, expected %d" % (lab, None if sent is None else int(sent), n))
                        ok = "LOST %d" % (n - int(sent or 0))
                    if any(bad_out[o] for o in ("failed", "dropped", "dead_lettered")):
                        self.problems.append("%s: sink outcomes %s" % (lab, bad_out))
                        ok = "LOST"
                    if bad_out["retried"]:
                        other.append("%d retried" % bad_out["retried"])
                if st is not None:
                    if st["lines"] != n or st["unterminated"] or st["errors"] or st.get("open_at_end"):
                        self.problems.append("%s: the receiver got %d lines (%d unterminated) for %d records; errors %s; %s connection(s) still open"
                                             % (lab, st["lines"], st["unterminated"], n, st["errors"], st.get("open_at_end")))
                        ok = "LOST %d" % (n - st["lines"]) if st["lines"] < n else "MISMATCH"
                    elif ok == "yes":
                        ok = "yes, %d lines" % st["lines"]
                    core = st["cpu"] / r["wall"] if r["wall"] > 0 else 0
                    other.append("fwd %.0f MB%s" % (st["body_bytes"] / MB, " (%.0f MB gz)" % (st["wire_bytes"] / MB) if st["gzip_requests"] else ""))
                    other.append("receiver %.2f CPU-s = %.0f%% of a core" % (st["cpu"], 100 * core))
                    if st["requests"]:
                        other.append("%d requests, ≤%.2f MB" % (st["requests"], st["max_body"] / MB))
                    if core >= 0.8:
                        self.extra_notes.append("%s: the Python receiver used %.2f CPU-s during a %.2f s run (%.0f%% of a core): "
                                                "it is probably the bottleneck" % (lab, st["cpu"], r["wall"], 100 * core))
                    cores = (r["cpu"] + st["cpu"]) / r["wall"] if r["wall"] > 0 else 0
                    ncpu = os.cpu_count() or 1
                    if cores >= 0.85 * ncpu:
                        self.extra_notes.append("%s: trailwatch (%.2f CPU-s) and the receiver (%.2f CPU-s) kept %.2f of the %d cores busy "
                                                "for %.2f s: the machine, not trailwatch alone, set this rate (the receiver takes %.0f%% of it)"
                                                % (lab, r["cpu"], st["cpu"], cores, ncpu, r["wall"], 100 * st["cpu"] / (r["cpu"] + st["cpu"])))
                    st["sample"] = (st.get("sample") or "")[:200]
                    self.log("    receiver: %s" % json.dumps({k: v for k, v in st.items() if k not in ("sample", "first", "last")}))
                base = self.tw_rows.get(t) if hasattr(self, "tw_rows") else None
                ratio = None
                if base and base["r"] and base["r"]["rc"] == 0 and not base["r"]["timed_out"] and r["rc"] == 0 and not r["timed_out"]:
                    ratio = base["r"]["wall"] / r["wall"]          # same bytes: rate ratio = inverse wall ratio
                    rss0 = base["r"]["rss_mb"]
                    if r["rss_mb"] > 2 * rss0 and r["rss_mb"] - rss0 > 50:
                        self.extra_notes.append("%s: peak RSS %.0f MB vs %.0f MB for the metrics-only run" % (lab, r["rss_mb"], rss0))
                shown = [x.replace("127.0.0.1:%d" % port, "127.0.0.1:PORT") if port else x for x in cmd]
                self.extra_cmds.append((lab, shown, rcmd))
                self.extra_row(label, t, r, n, size, ok, shown, "; ".join(other), ratio, "forward")
        self.run_backfill(tw, n, fflags, env)
        self.run_test_pattern_row(tw, data, size, n)

    def records_gz(self):
        gh = sha256_file(GENERATOR)[:10]
        prefix = "cloudtrail-%d-s%d-" % (self.a.records, self.a.seed)
        path = os.path.join(self.workdir, prefix + gh + ".records-gz")
        if os.path.isdir(path):
            self.log("backfill workload: cached %s" % path)
            return path
        for old in os.listdir(self.workdir):
            if old.startswith(prefix) and (old.endswith(".records-gz") or old.endswith(".records-gz.tmp")) and not self.a.keep:
                shutil.rmtree(os.path.join(self.workdir, old), ignore_errors=True)
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        self.log("backfill workload: generating %d records as records-gz (seed %d) ..." % (self.a.records, self.a.seed))
        t = self.a.timeout or max(180.0, self.a.records / 2000.0)
        r = run_measured([self.a.python, GENERATOR, "--count", str(self.a.records), "--seed", str(self.a.seed), "--format", "records-gz",
                          "--out", tmp], stderr_path=os.path.join(self.workdir, "gen-gz.stderr"), timeout=t)
        if r["rc"] != 0 or r["timed_out"]:
            self.problems.append("records-gz generator failed (rc %s, timed out %s); see %s/gen-gz.stderr" % (r["rc"], r["timed_out"], self.workdir))
            shutil.rmtree(tmp, ignore_errors=True)
            return None
        os.replace(tmp, path)
        self.log("backfill workload: generated in %.1f s" % r["wall"])
        return path

    def run_backfill(self, tw, n, fflags, env):
        if self.remaining() < 60:
            self.extra_row("backfill --files (records-gz)", "", None, n, 0, "skipped (out of time, --max-minutes)", None)
            return
        d = self.records_gz()
        if not d:
            self.extra_row("backfill --files (records-gz)", "", None, n, 0, "error (generator)", None)
            return
        files = gz = raw = 0
        for root, _, names in os.walk(d):
            for nm in names:
                fp = os.path.join(root, nm)
                files += 1
                with open(fp, "rb") as f:                # also warms the page cache
                    while True:
                        chunk = f.read(1 << 20)
                        if not chunk:
                            break
                        gz += len(chunk)
                        last = chunk
                raw += int.from_bytes(last[-4:], "little")   # gzip ISIZE (each file is far below 4 GiB)
        self.log("backfill workload: %d files, %.1f MB gz, %.1f MB uncompressed" % (files, gz / MB, raw / MB))
        self.gz_info = (d, files, gz, raw)
        for t in self.a.threads:
            if self.remaining() < 10:
                self.extra_row("backfill --files (records-gz)", t, None, n, raw, "skipped (out of time, --max-minutes)", None)
                continue
            mout = os.path.join(self.workdir, "backfill-t%d.prom" % t)
            stderr = os.path.join(self.workdir, "backfill-t%d.stderr" % t)
            if os.path.exists(mout):
                os.unlink(mout)
            cmd = [tw, "--files", d, "--metrics-addr", "none", "--metrics-out", mout, "--threads", str(t)] + fflags + self.a.tw_arg
            r = run_measured(cmd, stderr_path=stderr, timeout=self.timeout_for(raw), env=env)
            lab = "backfill T=%d" % t
            ok, _ = self.check_service(lab, mout, r, t, n, stderr)
            other = "gz read %.0f MB/s" % (gz / MB / r["wall"]) if r["wall"] > 0 and r["rc"] == 0 and not r["timed_out"] else ""
            base = self.tw_rows.get(t) if hasattr(self, "tw_rows") else None
            ratio = None
            if base and base["r"] and base["r"]["rc"] == 0 and not base["r"]["timed_out"] and r["rc"] == 0 and not r["timed_out"]:
                ratio = (raw / r["wall"]) / (base["size"] / base["r"]["wall"])
            self.extra_cmds.append((lab, cmd, None))
            self.extra_row("backfill --files (records-gz)", t, r, n, raw, ok, cmd, other, ratio, "backfill")

    def run_test_pattern_row(self, tw, data, size, n):
        nm = "console_signin_failure_metric"
        pattern = '{($.eventName=ConsoleLogin) && ($.errorMessage="Failed authentication")}'
        if self.remaining() < 10:
            self.extra_row("test-pattern --format text", 1, None, n, size, "skipped (out of time, --max-minutes)", None)
            return
        cmd = [tw, "test-pattern", "--format", "text", pattern, data]
        stderr = os.path.join(self.workdir, "test-pattern-text.stderr")
        r = run_measured(cmd, stderr_path=stderr, timeout=self.timeout_for(size) * 2, stdout_tail=4096)
        lines = [l for l in r["tail"].decode("utf-8", "replace").splitlines() if l.strip()]
        last = lines[-1].strip() if lines else ""
        m = re.match(r"Found (\d+) matches? out of (\d+) event", last)
        ref = self.ref_counts(min(self.a.threads) if self.a.threads else 1) or {}
        want = ref.get(nm)
        if r["rc"] != 0 or r["timed_out"]:
            ok = "error"
            self.problems.append("test-pattern --format text failed (rc %s, timed out %s): see %s" % (r["rc"], r["timed_out"], stderr))
        elif not m:
            ok = "MISMATCH"
            self.problems.append("test-pattern --format text: no 'Found N matches' last line (got %r)" % last[:200])
        elif int(m.group(1)) != want or int(m.group(2)) != n:
            ok = "MISMATCH"
            self.problems.append("MISMATCH test-pattern --format text: %r; the service counted %s for %s, %d records" % (last, want, nm, n))
        else:
            ok = "yes, %s" % m.group(1)
        self.extra_cmds.append(("test-pattern", cmd, None))
        self.extra_row("test-pattern --format text", 1, r, n, size, ok, cmd, "last line: %s" % last[:80], None, "test-pattern")

    # ---- mismatch investigation ------------------------------------------------------------------
    def investigate(self, tw, data, fflags, filters, names):
        ref = self.counts["python"]
        t0 = min(self.tw_rows) if self.tw_rows else 1
        tw_counts = next((self.counts[k] for k in sorted(self.counts) if k.startswith("trailwatch")), {})
        bad = [nm for nm in names if tw_counts.get(nm) != ref.get(nm)]
        self.log("")
        self.log("investigating %d mismatching filter(s): %s" % (len(bad), ", ".join(bad)))
        for nm in bad[:3]:
            which = names.index(nm)
            pattern = filters[which][1]
            hits, offsets = python_matches(data, filters, which)
            py_set = set(hits)
            # 1. per-record view of trailwatch's evaluator
            out = os.path.join(self.workdir, "tp-%s.out" % nm)
            run_measured([tw, "test-pattern", "--format", "json", pattern, data], stdout_path=out, timeout=self.timeout_for(self.size) * 2)
            tp_set = set()
            with open(out, "rb") as f:
                for line in f:
                    if b'"match":true' in line:
                        tp_set.add(json.loads(line)["event"])
            only_py = sorted(py_set - tp_set)
            only_tp = sorted(tp_set - py_set)
            self.log("%s: Python %d, test-pattern %d, service %s; only Python: %d, only test-pattern: %d"
                     % (nm, len(py_set), len(tp_set), tw_counts.get(nm), len(only_py), len(only_tp)))
            if only_py or only_tp:
                self.show_examples(tw, data, offsets, pattern, nm, only_py, only_tp, "test-pattern")
            # 2. the service itself (prefilter path) against Python, by bisection
            if tw_counts.get(nm) != len(py_set) and not only_py and not only_tp:
                self.log("%s: test-pattern agrees with Python; the service differs. Bisecting the file with the service ..." % nm)
                lines = self.bisect_service(tw, data, fflags, offsets, hits, nm)
                if lines:
                    py_only = [x for x in lines if x in py_set]
                    tw_only = [x for x in lines if x not in py_set]
                    self.show_examples(tw, data, offsets, pattern, nm, py_only, tw_only, "the service")

    def line_text(self, data, offsets, no):
        with open(data, "rb") as f:
            f.seek(offsets[no - 1])
            return f.read(offsets[no] - offsets[no - 1])

    def show_examples(self, tw, data, offsets, pattern, nm, only_py, only_other, other):
        for label, lst in (("matched by Python, not by %s" % other, only_py), ("matched by %s, not by Python" % other, only_other)):
            for no in lst[:3]:
                text = self.line_text(data, offsets, no)
                msg = "  %s: %s line %d: %s%s" % (nm, label, no, text[:600].decode("utf-8", "replace").rstrip(), " ..." if len(text) > 600 else "")
                self.log(msg)
                self.problems.append(msg)
                with tempfile.NamedTemporaryFile("wb", suffix=".ndjson", dir=self.workdir, delete=False) as tf:
                    tf.write(text)
                try:
                    ex = subprocess.run([tw, "test-pattern", "--explain", pattern, tf.name], capture_output=True, text=True, timeout=60)
                    for l in ex.stdout.splitlines():
                        if "explain" in l or "match" in l.lower():
                            self.log("    " + l.strip()[:400])
                            self.problems.append("    " + l.strip()[:400])
                finally:
                    os.unlink(tf.name)

    def service_count(self, tw, fflags, path, nm):
        mout = path + ".prom"
        r = run_measured([tw, "--stdin", "--metrics-addr", "none", "--metrics-out", mout, "--threads", "1"] + fflags + self.a.tw_arg,
                         stdin_path=path, timeout=120, env=dict(os.environ, TRAILWATCH_LOG="error"))
        if r["rc"] != 0 or not os.path.exists(mout):
            return None
        c, _ = trailwatch_counts(parse_prometheus(mout), [nm])
        os.unlink(mout)
        return c[nm]

    def bisect_service(self, tw, data, fflags, offsets, hits, nm, max_runs=400):
        """Narrow the service's disagreement down to single lines; returns their numbers."""
        import bisect as bs
        runs = [0]
        found = []
        tmp = os.path.join(self.workdir, "bisect.ndjson")

        def py_count(a, b):     # lines a..b-1 (1-based, half open)
            return bs.bisect_left(hits, b) - bs.bisect_left(hits, a)

        def svc(a, b):
            with open(data, "rb") as f, open(tmp, "wb") as o:
                f.seek(offsets[a - 1])
                o.write(f.read(offsets[b - 1] - offsets[a - 1]))
            runs[0] += 1
            return self.service_count(tw, fflags, tmp, nm)

        def walk(a, b):
            if runs[0] >= max_runs or len(found) >= 6:
                return
            c = svc(a, b)
            if c is None or c == py_count(a, b):
                return
            if b - a == 1:
                found.append(a)
                return
            k = 8 if b - a > 64 else 2
            step = max(1, (b - a + k - 1) // k)
            for s in range(a, b, step):
                walk(s, min(b, s + step))

        walk(1, len(offsets))
        if os.path.exists(tmp):
            os.unlink(tmp)
        self.log("  bisection: %d service runs, %d line(s) found%s" % (runs[0], len(found), "" if found else
                                                                          " (the difference may need several lines together, e.g. batching)"))
        return found

    # ---- output --------------------------------------------------------------------------------
    def print_machine(self):
        cpu = "?"
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        cpu = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        mem = "?"
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal"):
                        mem = "%.1f GB" % (int(line.split()[1]) * 1024 / 1e9)
        except OSError:
            pass
        try:
            nproc = subprocess.run(["nproc"], capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:   # noqa: BLE001
            nproc = str(os.cpu_count())
        try:
            shared = subprocess.run([self.a.python, "-c", "import sysconfig; print(sysconfig.get_config_var('Py_ENABLE_SHARED'))"],
                                    capture_output=True, text=True, timeout=30).stdout.strip()
            pgo = "libpython shared" if shared == "1" else "libpython static"
            pyver = subprocess.run([self.a.python, "-c", "import platform; print(platform.python_version())"],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
        except Exception:   # noqa: BLE001
            pgo, pyver = "?", "?"
        self.machine = [
            ("date", time.strftime("%Y-%m-%d %H:%M:%S %Z")),
            ("nproc", nproc),
            ("CPU", cpu),
            ("memory", mem),
            ("kernel", platform.release()),
            ("python (loop and generator)", "%s %s (%s)" % (self.a.python, pyver, pgo)),
            ("load average at start", "%.2f %.2f %.2f" % os.getloadavg()),
        ]
        self.rss_floor = run_measured(["true"], timeout=30)["floor_mb"]
        self.cmdline = " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv)
        self.log("machine:")
        for k, v in self.machine:
            self.log("  %-28s %s" % (k, v))
        self.log("command: %s" % self.cmdline)
        self.log("")

    def rss_text(self, r):
        if r["rss_how"] == "sampled":
            return "~%.1f" % r["rss_mb"]
        return "%.1f" % r["rss_mb"]

    def table(self):
        head = ["tool", "threads", "MB/s wall", "records/s", "MB per CPU-second", "CPU s", "peak RSS MB", "counts ok"]
        rows = []
        for row in self.rows:
            r = row["r"]
            if r is None or r["timed_out"] or r["rc"] != 0:
                why = row["note"] if r is None else ("timed out" if r["timed_out"] else "exit %s" % r["rc"])
                rows.append([row["tool"], str(row["threads"]), "—", "—", "—", "—", "—", row["ok"] if r is None else "%s (%s)" % (row["ok"], why)])
                continue
            mb = row["size"] / MB
            rows.append([row["tool"], str(row["threads"]), "%.0f" % (mb / r["wall"]), "{:,.0f}".format(row["records"] / r["wall"]),
                         "%.0f" % (mb / r["cpu"]) if r["cpu"] > 0 else "∞", "%.2f" % r["cpu"], self.rss_text(r), row["ok"]])
        return head, rows

    def ratios(self):
        out = []
        py = next((x for x in self.rows if x["tool"].startswith("Python") and x["r"] and x["r"]["rc"] == 0), None)

        def eff(row):
            return row["size"] / MB / row["r"]["cpu"] if row["r"]["cpu"] > 0 else float("inf")

        def wall(row):
            return row["size"] / MB / row["r"]["wall"]

        good = {t: row for t, row in self.tw_rows.items() if row["r"] and row["r"]["rc"] == 0 and not row["r"]["timed_out"]}
        for t, row in sorted(good.items()):
            if py:
                out.append("trailwatch T=%d MB per CPU-second ÷ Python loop: %.1f×" % (t, eff(row) / eff(py)))
            for other in self.rows:
                if other["tool"] in ("fluent-bit", "vector", "jq", "mtail") and other["r"] and other["r"]["rc"] == 0:
                    out.append("trailwatch T=%d MB per CPU-second ÷ %s: %.1f×" % (t, other["tool"], eff(row) / eff(other)))
        if 1 in good and 2 in good:
            out.append("trailwatch 2-thread wall rate ÷ 1-thread wall rate: %.2f×" % (wall(good[2]) / wall(good[1])))
        cat = next((x for x in self.rows if x["tool"].startswith("cat") and x["r"]), None)
        if cat and good:
            best = max(good.values(), key=wall)
            out.append("best trailwatch wall rate ÷ cat: %.2f (cat reads at %.0f MB/s)" % (wall(best) / wall(cat), wall(cat)))
        return out

    def extras_table(self):
        head = ["row", "threads", "MB/s wall", "records/s", "MB per CPU-second", "CPU s", "peak RSS MB", "rate ÷ metrics-only",
                "checks", "other"]
        rows = []
        for row in self.extra_rows:
            r = row["r"]
            ratio = "%.2f×" % row["ratio"] if row["ratio"] is not None else "—"
            if r is None or r["timed_out"] or r["rc"] != 0:
                why = "" if r is None else (" (timed out)" if r["timed_out"] else " (exit %s)" % r["rc"])
                rows.append([row["tool"], str(row["threads"]), "—", "—", "—", "—", "—", "—", row["ok"] + why, row["other"]])
                continue
            mb = row["size"] / MB
            rows.append([row["tool"], str(row["threads"]), "%.0f" % (mb / r["wall"]), "{:,.0f}".format(row["records"] / r["wall"]),
                         "%.0f" % (mb / r["cpu"]) if r["cpu"] > 0 else "∞", "%.2f" % r["cpu"], self.rss_text(r), ratio, row["ok"],
                         row["other"]])
        return head, rows

    def extras_ratios(self):
        out = []
        for t in self.a.threads:
            fw = [x for x in self.extra_rows if x["kind"] == "forward" and x["threads"] == t]
            if not fw:
                continue
            parts, below = [], []
            for x in fw:
                name = x["tool"].replace("forward ", "")
                if x["ratio"] is None:
                    parts.append("%s —" % name)
                    continue
                parts.append("%s %.2f×" % (name, x["ratio"]))
                if x["ratio"] < 0.5:
                    below.append(name)
            out.append("forwarding rate ÷ metrics-only rate, T=%d: %s; target ≥ 0.50×: %s" % (
                t, ", ".join(parts), ("NOT MET by " + ", ".join(below)) if below else "met"))
        for x in self.extra_rows:
            if x["kind"] == "backfill" and x["ratio"] is not None:
                out.append("backfill T=%s uncompressed rate ÷ stdin metrics-only rate: %.2f×" % (x["threads"], x["ratio"]))
        if getattr(self, "gz_info", None):
            d, files, gz, raw = self.gz_info
            out.append("backfill input: %d records-gz files in %s, %.1f MB gz, %.1f MB uncompressed (%.1f× ratio); "
                       "backfill MB/s and MB per CPU-second are of uncompressed bytes" % (files, d, gz / MB, raw / MB, raw / gz if gz else 0))
        return out

    def counts_table(self):
        tools = [k for k in ("python",) if k in self.counts] + sorted(k for k in self.counts if k.startswith("trailwatch")) + \
                [k for k in self.counts if not k.startswith("trailwatch") and k != "python"]
        head = ["filter"] + tools + (["test-pattern"] if getattr(self, "tp", None) else [])
        rows = []
        for nm in self.names:
            row = [nm] + [str(self.counts[t].get(nm, "")) for t in tools]
            if getattr(self, "tp", None):
                row.append(str(self.tp["count"]) if self.tp["filter"] == nm and self.tp["count"] is not None else "")
            rows.append(row)
        return head, rows

    def report(self, py_row):
        def fmt(head, rows):
            w = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
            lines = [" | ".join(str(c).ljust(w[i]) for i, c in enumerate(head)), "-+-".join("-" * x for x in w)]
            lines += [" | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) for r in rows]
            return "\n".join(lines)

        def md(head, rows):
            lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
            lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
            return "\n".join(lines)

        head, rows = self.table()
        chead, crows = self.counts_table()
        ratios = self.ratios()
        desc = "%d records, %.1f MB (%.0f bytes/record), filters: %s (%d)" % (self.a.records, self.size / MB, self.size / self.a.records,
                                                                             self.a.filters, len(self.names))
        self.log("")
        self.log("results: " + desc)
        self.log(fmt(head, rows))
        self.log("")
        for x in ratios:
            self.log(x)
        self.log("")
        self.log("per-filter counts:")
        self.log(fmt(chead, crows))
        if getattr(self, "tp", None) and self.tp.get("count") is not None:
            self.log("test-pattern check on %s: %s" % (self.tp["filter"], self.tp.get("ok")))
        extras = getattr(self, "extra_rows", None) is not None
        if extras:
            ehead, erows = self.extras_table()
            eratios = self.extras_ratios()
            self.log("")
            self.log("Forwarding, backfill and test-pattern (same workload; forwarding and test-pattern MB are of the NDJSON file):")
            self.log(fmt(ehead, erows))
            self.log("")
            for x in eratios:
                self.log(x)
            for x in self.extra_notes:
                self.log("note: " + x)
            self.log("")
        for x in self.notes:
            self.log("note: " + x)
        if self.problems:
            self.log("")
            for p in self.problems:
                self.log(p)
            self.log("RESULT: FAILED (%d problem(s))" % len(self.problems))
        else:
            self.log("RESULT: counts agree across all tools that ran")
        mdpath = os.path.join(self.workdir, "results.md")
        with open(mdpath, "w") as f:
            f.write("## trailwatch end-to-end throughput\n\n")
            f.write("Workload: %s. MB = 10^6 bytes.\n\n" % desc)
            f.write("Machine: " + "; ".join("%s: %s" % kv for kv in self.machine) + "\n\n")
            f.write("trailwatch: %s (binary sha256 %s, built %s)\n\n" % (self.tw_version, self.tw_sha, self.tw_mtime))
            f.write("Command: `%s`\n\n" % self.cmdline)
            f.write("Peak RSS is ru_maxrss from wait4; Linux starts a child's ru_maxrss at the parent's peak (the harness, about "
                    "%.0f MB), so a value marked ~ is the child's VmHWM sampled from /proc every 10 ms instead.\n\n" % self.rss_floor)
            f.write(md(head, rows) + "\n\n")
            for x in ratios:
                f.write("- " + x + "\n")
            f.write("\nPer-filter counts:\n\n" + md(chead, crows) + "\n\n")
            if extras:
                f.write("### Forwarding, backfill and test-pattern\n\n")
                f.write("Same workload file and measurement. Forwarding and test-pattern MB are of the NDJSON file; backfill MB are "
                        "of the uncompressed records-gz files (gz bytes read per second under *other*). *rate ÷ metrics-only* "
                        "compares with the `--stdin` metrics-only row of the same thread count. Receivers are this script's "
                        "`_receiver` child process (Python), whose own CPU time is under *other*; they count the newline-"
                        "terminated lines they receive, which must equal the number of input records.\n\n")
                f.write(md(ehead, erows) + "\n\n")
                for x in eratios:
                    f.write("- " + x + "\n")
                for x in self.extra_notes:
                    f.write("- note: " + x + "\n")
                f.write("\nCommands (stdin redirected from the workload file for `--stdin`; PORT is the receiver's):\n\n")
                for lab, cmd, rcmd in self.extra_cmds:
                    f.write("- %s: `%s`%s\n" % (lab, " ".join(shlex.quote(x) for x in cmd) + (" < " + shlex.quote(self.data) if "--stdin" in cmd else ""),
                                                 ("; receiver `%s`" % " ".join(shlex.quote(x) for x in rcmd)) if rcmd else ""))
                for cfg, text in sorted(getattr(self, "http_config_text", {}).items()):
                    f.write("\n`%s`:\n\n```toml\n%s```\n" % (cfg, text))
                f.write("\n")
            if self.problems:
                f.write("**FAILED**:\n\n" + "\n".join("- `%s`" % p.replace("`", "'")[:800] for p in self.problems) + "\n")
            else:
                f.write("Counts agree across all tools that ran.\n")
        self.log("wrote %s" % mdpath)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "_python-baseline":
        return python_baseline_main(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "_receiver":
        return receiver_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", default="1,2", help="comma-separated trailwatch --threads values")
    ap.add_argument("--workdir", default=os.path.join(REPO, "bench-work"))
    ap.add_argument("--filters", choices=("cis", "five"), default="cis")
    ap.add_argument("--keep", action="store_true", help="keep the workload and outputs (default: keep only the cached workload and results)")
    ap.add_argument("--trailwatch", default=DEFAULT_TRAILWATCH, help="the binary (copied to WORKDIR before the runs)")
    ap.add_argument("--tw-arg", action="append", default=[], help="extra argument for the trailwatch service runs (repeatable)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the generator and the Python loop")
    ap.add_argument("--check-filter", default="unauthorized_api_calls_metric", help="filter for the test-pattern check")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per subprocess (default: from the file size)")
    ap.add_argument("--max-minutes", type=float, default=60.0, help="no new run starts after this")
    ap.add_argument("--selftest-mismatch", action="store_true", help="run the service with a deliberately wrong pattern (tests this harness)")
    ap.add_argument("--no-investigate", action="store_true", help="on a mismatch, do not search for example records")
    ap.add_argument("--extras", action="store_true", help="also measure forwarding (file:/dev/null, TCP, HTTP NDJSON with and without "
                    "gzip), backfill of records-gz files (--files) and test-pattern --format text; a second table")
    a = ap.parse_args()
    a.threads = [int(x) for x in a.threads.split(",") if x.strip()]
    h = Harness(a)
    rc = h.run()
    if not a.keep and rc == 0:
        for name in os.listdir(h.workdir):
            if name.endswith((".out", ".prom", ".stderr", ".bin", ".jq")) and name != "results.md":
                try:
                    os.unlink(os.path.join(h.workdir, name))
                except OSError:
                    pass
    return rc


if __name__ == "__main__":
    sys.exit(main() or 0)
