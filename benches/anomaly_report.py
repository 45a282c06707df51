#!/usr/bin/env python3
"""Scores trailwatch's anomaly records against an anomaly_scenario.py ground truth (Python 3.11, stdlib only).

    anomaly_report.py scenario.ndjson truth.json anomalies.ndjson [--learning-days 7] [--json]

Inputs
  scenario.ndjson   the CloudTrail records anomaly_scenario.py wrote (only eventTime and eventID are read)
  truth.json        its ground truth (attacks with their injected eventIDs; benign_novelty)
  anomalies.ndjson  what trailwatch wrote with --anomalies-out: one JSON object a line with at least
                    detector, eventTime, eventID (of the triggering event); principal, account, region
                    and detail are shown but not needed.  Rate records (api_call_rate, api_error_rate)
                    carry CloudTrail-Insights fields: insightDetails.state "Start"/"End",
                    insightDetails.eventSource / eventName; only "Start" records are alarms ("End"
                    records are ignored).  Blank lines are skipped; a line that is not a JSON object
                    is an error.

Attribution
  A record belongs to an attack if its eventID is one of the attack's injected eventIDs, or - for
  api_call_rate / api_error_rate - if its account and eventSource:eventName equal the attack's
  (account, api) and its eventTime is within the attack's [start - 5 min, end + 5 min] (any attack
  kind with an account+api, so an error spike that also raises the call rate is not a false alarm).
  A rate record's account is its "account" field, else recipientAccountId; its API is
  insightDetails.eventSource:eventName, else detail.eventSource:eventName, else detail.api.
  An attack is found if at least one record of its *expected* detector is attributed to it.
  Every other record is a false alarm of its detector; false alarms whose eventID is in
  truth.json's benign_novelty (a genuine first for an established principal) are also counted
  in the "on benign novelty" column - a first-seen detector cannot avoid those.

Output: a Markdown table (one row per detector and a total row), then one line per attack not
found.  "benign events" are scenario events after the first --learning-days days that are not
injected; "per M" is false alarms per million of them.  --json prints the same as JSON instead.
Exit status: 1 if an attack was missed, 0 otherwise (2 on bad input).

All data is synthetic (see anomaly_scenario.py).
"""

import argparse
import calendar
import json
import sys
import time

DETECTORS = ["new_source_ip", "new_region", "new_user_agent", "new_api", "new_access_key",
             "api_call_rate", "api_error_rate", "error_burst"]
RATE = {"api_call_rate", "api_error_rate"}
SLACK = 300


def parse_ts(s):
    """'YYYY-MM-DDTHH:MM:SS[.fff]Z' (or +00:00) -> epoch seconds (float)."""
    if not isinstance(s, str) or len(s) < 19:
        return None
    try:
        base = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return None
    frac = 0.0
    if len(s) > 19 and s[19] == ".":
        j = 20
        while j < len(s) and s[j].isdigit():
            j += 1
        frac = float("0" + s[19:j]) if j > 20 else 0.0
    return base + frac


def field(line, key):
    """The string value of top-level-looking `"key":"..."` in a compact record (first occurrence)."""
    k = '"%s":"' % key
    i = line.find(k)
    if i < 0:
        return None
    i += len(k)
    return line[i:line.find('"', i)]


def rate_api(rec):
    ins = rec.get("insightDetails")
    if isinstance(ins, dict):
        src, name = ins.get("eventSource"), ins.get("eventName")
        if src and name:
            return "%s:%s" % (src, name)
    det = rec.get("detail")
    if isinstance(det, dict):
        if det.get("eventSource") and det.get("eventName"):
            return "%s:%s" % (det["eventSource"], det["eventName"])
        if isinstance(det.get("api"), str):
            return det["api"]
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario")
    ap.add_argument("truth")
    ap.add_argument("anomalies")
    ap.add_argument("--learning-days", type=float, default=7.0)
    ap.add_argument("--json", action="store_true", help="machine-readable output instead of Markdown")
    a = ap.parse_args()

    with open(a.truth) as f:
        truth = json.load(f)
    attacks = truth["attacks"]
    injected = {}
    for i, at in enumerate(attacks):
        at["_t0"], at["_t1"] = parse_ts(at["start"]), parse_ts(at["end"])
        for e in at["eventIDs"]:
            injected[e] = i
    novelty = {x["eventID"] for x in truth.get("benign_novelty", [])}
    start = parse_ts(truth["start"])
    cutoff = start + a.learning_days * 86400

    # benign events after the learning period
    benign_after = 0
    total = 0
    with open(a.scenario, encoding="utf-8", errors="replace") as f:
        for line in f:
            if len(line) < 3:
                continue
            total += 1
            et = field(line, "eventTime")
            t = parse_ts(et)
            if t is None or t < cutoff:
                continue
            if injected and field(line, "eventID") in injected:
                continue
            benign_after += 1

    by_acct_api = {}
    for i, at in enumerate(attacks):
        if at.get("account") and at.get("api"):
            by_acct_api.setdefault((at["account"], at["api"]), []).append(i)

    rows = {d: {"injected": 0, "found": 0, "alarms": 0, "attributed": 0, "false_alarms": 0,
                "on_benign_novelty": 0, "ignored_end": 0} for d in DETECTORS}
    for at in attacks:
        rows.setdefault(at["detector"], {"injected": 0, "found": 0, "alarms": 0, "attributed": 0, "false_alarms": 0,
                                         "on_benign_novelty": 0, "ignored_end": 0})["injected"] += 1
    hits = [set() for _ in attacks]           # detectors that fired on each attack
    examples = {}
    with open(a.anomalies, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                print("%s:%d: not JSON: %s" % (a.anomalies, n, e), file=sys.stderr)
                sys.exit(2)
            if not isinstance(rec, dict) or not isinstance(rec.get("detector"), str):
                print("%s:%d: not an anomaly record (no \"detector\")" % (a.anomalies, n), file=sys.stderr)
                sys.exit(2)
            det = rec["detector"]
            row = rows.setdefault(det, {"injected": 0, "found": 0, "alarms": 0, "attributed": 0, "false_alarms": 0,
                                        "on_benign_novelty": 0, "ignored_end": 0})
            ins = rec.get("insightDetails")
            if isinstance(ins, dict) and ins.get("state") not in (None, "Start"):
                row["ignored_end"] += 1
                continue
            row["alarms"] += 1
            owners = set()
            eid = rec.get("eventID")
            if eid in injected:
                owners.add(injected[eid])
            if det in RATE:
                acct = rec.get("account") or rec.get("recipientAccountId")
                api = rate_api(rec)
                t = parse_ts(rec.get("eventTime"))
                if acct and api and t is not None:
                    for i in by_acct_api.get((acct, api), ()):
                        if attacks[i]["_t0"] - SLACK <= t <= attacks[i]["_t1"] + SLACK:
                            owners.add(i)
            if owners:
                row["attributed"] += 1
                for i in owners:
                    hits[i].add(det)
            else:
                row["false_alarms"] += 1
                if eid in novelty:
                    row["on_benign_novelty"] += 1
                ex = examples.setdefault(det, [])
                if len(ex) < 3:
                    ex.append({k: rec.get(k) for k in ("eventTime", "principal", "account", "eventID")})
    missed = []
    for i, at in enumerate(attacks):
        if at["detector"] in hits[i]:
            rows[at["detector"]]["found"] += 1
        else:
            missed.append(at)
    per_m = lambda fa: (fa * 1e6 / benign_after) if benign_after else 0.0
    tot = {k: sum(r[k] for r in rows.values()) for k in ("injected", "found", "alarms", "attributed", "false_alarms",
                                                         "on_benign_novelty", "ignored_end")}
    order = DETECTORS + sorted(d for d in rows if d not in DETECTORS)

    if a.json:
        out = {"scenario_events": total, "benign_events_after_learning": benign_after, "learning_days": a.learning_days,
               "detectors": {d: dict(rows[d], false_alarms_per_million=round(per_m(rows[d]["false_alarms"]), 3))
                             for d in order},
               "total": dict(tot, false_alarms_per_million=round(per_m(tot["false_alarms"]), 3)),
               "attacks": [{"id": at["id"], "detector": at["detector"], "found": at["detector"] in hits[i],
                            "fired": sorted(hits[i])} for i, at in enumerate(attacks)],
               "missed": [at["id"] for at in missed],
               "false_alarm_examples": examples}
        json.dump(out, sys.stdout, indent=1)
        print()
    else:
        print("| detector | attacks injected | found | alarms | false alarms | on benign novelty | benign events after day %g | false alarms per M |"
              % a.learning_days)
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for d in order:
            r = rows[d]
            print("| %s | %d | %d | %d | %d | %d | %d | %.2f |" % (d, r["injected"], r["found"], r["alarms"], r["false_alarms"],
                                                                    r["on_benign_novelty"], benign_after, per_m(r["false_alarms"])))
        print("| **total** | %d | %d | %d | %d | %d | %d | %.2f |" % (tot["injected"], tot["found"], tot["alarms"], tot["false_alarms"],
                                                                       tot["on_benign_novelty"], benign_after, per_m(tot["false_alarms"])))
        print()
        for at in missed:
            fired = ", ".join(sorted(hits[attacks.index(at)])) or "nothing"
            print("- missed %s (%s, expected %s): principal %s, account %s%s, %s to %s, %d events; fired: %s" % (
                at["id"], at["kind"], at["detector"], at["principal"], at["account"],
                (", api " + at["api"]) if at.get("api") else "", at["start"], at["end"], len(at["eventIDs"]), fired))
        if not missed:
            print("All %d attacks found." % len(attacks))
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
