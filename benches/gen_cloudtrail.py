#!/usr/bin/env python3
"""Deterministic generator of synthetic, realistic CloudTrail records (Python 3.11, stdlib only).

    gen_cloudtrail.py --count N [--seed S] [--format ndjson|records|records-gz]
                      [--records-per-file K] [--out PATH]

Formats:
  ndjson      one compact record per line (the CloudWatch Logs shape metric filters see);
              to stdout, or to the file --out.
  records     S3 delivery files `{"Records":[...]}`, K records each, uncompressed `.json`;
              with --out DIR they are written like a trail bucket
              (DIR/AWSLogs/<acct>/CloudTrail/<region>/YYYY/MM/DD/<acct>_CloudTrail_<region>_<time>_<16 alnum>.json);
              without --out one `{"Records":[...]}` object per line goes to stdout.
  records-gz  the same files gzip-compressed (`.json.gz`, the real extension); needs --out DIR.

All content is synthetic: names, account IDs, keys and addresses are invented here (addresses come
from the RFC 5737 documentation ranges and private ranges). Nothing is copied from a public corpus.

The record sequence depends only on --seed and --count (not on the format, nor on the Python
3.11 build), so the three formats of one seed hold the same records.  The mix is set by the
constants below.  --stats prints sizes and escape rates to stderr; for seed 1 and 1,000,000
records: mean 1,635 bytes, median 1,554, p99 2,893, max 8.9 KB; 1.00 % with a \\u escape, 3.25 %
with escaped quotes.  Speed on a 2-vCPU EPYC: 1,000,000 records in 47 s with Debian's python3
3.11.2, 62 s with a pyenv 3.11.7 (shared libpython) - one core either way.

Speed comes from reuse: identities are pooled and encoded to JSON once; routine calls (85 %) draw
from a per-(API, account, region) set of 48 pre-encoded parameter variants, one of which is
rebuilt 12 % of the time; each record is assembled as text around those pieces.  Per-record
fields (eventID, requestID, eventTime, address, user agent, TLS details) are always fresh.
"""

import argparse
import base64
import bisect
import gzip
import json
import os
import random
import sys
import time

# --------------------------------------------------------------------------------------------
# Mix, by count.  "misc" is whatever the others leave.
MIX = {
    "routine": 0.85,        # reads, data events, AssumeRole ... that no CIS filter matches
    "cis_change": 0.04,     # changes whose eventName is in some CIS filter's list
    "error": 0.03,          # calls that fail (AccessDenied, Client.UnauthorizedOperation, throttling ...)
    "console_login": 0.01,  # ConsoleLogin successes (with/without MFA) and failures
    "root": 0.002,          # root-credential activity (most counted by root_usage, some not)
}
MIX["misc"] = 1.0 - sum(MIX.values())   # non-CIS writes, other sign-in events, service events, decoys

# Fraction of records written with JSON \u escapes (Gson-style \u003d / \u003c / \u003e / \u0026 /
# \u0027 escaping, and non-ASCII principal names written as \u00XX).
UNICODE_ESCAPE_RATE = 0.01
# Fraction of records that are deliberately awkward for a byte-level prefilter but legal JSON:
# whitespace around ':' and ',', a \u escape inside a tested value ("Stop\u004cogging"),
# fields in an unusual order, decoy copies of tested keys nested deeper, `"invokedBy":null`.
# CloudTrail itself does not write these, but shippers and re-serialisers can.  0 disables them.
ADVERSARIAL_RATE = 0.0002

START_TIME = 1796083200          # 2026-12-01T00:00:00Z
MEAN_GAP_SECONDS = 0.02          # 1,000,000 records span about 5.5 hours

MAIN_ACCOUNT = "123456789012"
OTHER_ACCOUNTS = ["210987654321", "345678901234", "456789012345"]
ORG_MGMT_ACCOUNT = "111122223333"
ACCOUNT_WEIGHTS = [(MAIN_ACCOUNT, 0.82), ("210987654321", 0.09), ("345678901234", 0.06), ("456789012345", 0.03)]
REGIONS = [("us-east-1", 0.52), ("us-west-2", 0.2), ("eu-west-1", 0.14), ("eu-central-1", 0.06),
           ("ap-southeast-2", 0.04), ("us-east-2", 0.04)]
EVENT_VERSIONS = [("1.08", 0.28), ("1.09", 0.42), ("1.10", 0.17), ("1.11", 0.13)]

HEX = "0123456789abcdef"
UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

USER_AGENTS_SDK = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79-99.164.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/{cmd}",
    "aws-cli/2.17.12 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off command/{cmd}",
    "aws-cli/1.32.70 md/Botocore#1.34.70 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.9.16 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.34.70",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
    "Boto3/1.35.2 md/Botocore#1.35.2 ua/2.0 os/linux#6.1.97 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#standard Botocore/1.35.2",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.149.1",
    "aws-sdk-go/1.50.38 (go1.21.8; linux; amd64)",
    "aws-sdk-java/2.25.10 Linux/5.10.214-202.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
    "aws-sdk-java/1.12.681 Linux/5.10.213 OpenJDK_64-Bit_Server_VM/11.0.22+7-LTS java/11.0.22 kotlin/1.9.22 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE",
    "aws-sdk-js/3.540.0 ua/2.0 os/linux#5.10.213 lang/js md/nodejs#20.11.1 api/{svc}#3.540.0",
    "aws-sdk-nodejs/2.1580.0 linux/v18.19.1 exec-env/AWS_Lambda_nodejs18.x promise",
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/{svc}#1.151.0",
    "kubernetes/v1.29.3-eks-adc7111 aws-sdk-go/1.48.1 (go1.21.6; linux; amd64) cluster-autoscaler",
    "Amazon CloudWatch Agent",
    "amazon-ssm-agent/3.3.380.0",
]
USER_AGENTS_CONSOLE = [
    "AWS Internal",
    "console.amazonaws.com",
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10.218-186.862.amzn2int.x86_64 OpenJDK_64-Bit_Server_VM/25.372-b08 java/1.8.0_372 vendor/Oracle_Corporation cfg/retry-mode/standard]",
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0",
]
TLS = [
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256"), ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    ("TLSv1.3", "TLS_AES_256_GCM_SHA384"), ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
]
FIRST_NAMES = ["alice", "bob", "carol", "dinesh", "emma", "farid", "grace", "hiro", "ines", "jamal",
               "kate", "lars", "mei", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq",
               "uma", "victor", "wen", "xavier", "yara", "zoltan"]
LAST_NAMES = ["adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen",
              "kowalski", "lopez", "moreau", "nakamura", "okafor", "patel", "rossi", "silva", "tanaka"]
# Non-ASCII principal names: only used by the records chosen for \u escapes.
INTL_NAMES = ["jos\u00e9.mu\u00f1oz", "ren\u00e9e.dubois", "j\u00fcrgen.m\u00fcller", "zo\u00eb.brontë",
              "bj\u00f6rn.ekstr\u00f6m", "fran\u00e7ois.leclerc", "\u00e5sa.lindqvist", "chlo\u00e9.girard"]
SSO_PERMSETS = ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "DataEngineer", "SecurityAudit", "Billing"]
APP_NAMES = ["orders", "payments", "catalog", "search", "ingest", "reports", "auth", "inventory",
             "notifications", "billing", "etl", "analytics", "checkout", "profile"]
ENVS = ["prod", "staging", "dev"]
BUCKET_SUFFIXES = ["assets", "uploads", "logs", "backups", "artifacts", "datalake-raw", "datalake-curated",
                   "static-site", "exports", "tfstate"]
FILE_EXT = [".json", ".parquet", ".csv.gz", ".png", ".jpg", ".tar.gz", ".log", ".avro", ".html"]

S3_REQID = object()       # marker: "a fresh 16-hex-digit S3 request ID"
VARIANTS_PER_SLOT = 48    # routine calls reuse pre-built, pre-encoded parameter sets per (API, account, region) ...
VARIANT_REFRESH = 0.12    # ... and rebuild one this often, so the set keeps changing over a run


EMPTY = {}
esc = json.encoder.encode_basestring_ascii
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def dumps(v):
    return _dumps(v)


def enc(v):
    if v is None:
        return "null"
    if type(v) is Raw:
        return v.s
    return _dumps(v)


class Raw:
    """A value that is already JSON text (spliced into the record after json.dumps)."""
    __slots__ = ("s",)

    def __init__(self, s):
        self.s = s


UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in HEX}
ESCAPE_TABLE = {ord("="): "\\u003d", ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", ord("'"): "\\u0027"}


def weighted(pairs):
    """(values, cumulative weights) for pick()."""
    vals, cum, acc = [], [], 0.0
    for v, w in pairs:
        acc += w
        vals.append(v)
        cum.append(acc)
    return vals, [c / acc for c in cum]


class Gen:
    def __init__(self, seed):
        self.r = r = random.Random(seed)
        self.t = float(START_TIME)
        self._tcache = (None, None)
        self.accounts = weighted(ACCOUNT_WEIGHTS)
        self.regions = weighted(REGIONS)
        self.versions = weighted(EVENT_VERSIONS)
        self.mix = weighted(list(MIX.items()))
        self.role_ids = {}
        self.pending_u = False
        self.variants = {}
        self.ua_cache = {}
        self.ip_pool = [self._ip() for _ in range(4000)]   # an account sees a limited set of client addresses
        self._build_pools()
        self._build_tables()

    # ---- small random helpers ------------------------------------------------------------
    def pick(self, table):
        vals, cum = table
        return vals[bisect.bisect_left(cum, self.r.random())]

    def ch(self, seq):
        return seq[int(self.r.random() * len(seq))]

    def rr(self, a, b=None):
        if b is None:
            return int(self.r.random() * a)
        return a + int(self.r.random() * (b - a))

    def hexs(self, n):
        return "%0*x" % (n, self.r.getrandbits(4 * n))

    def alnum(self, n, alphabet=UPPER_ALNUM):
        if alphabet is UPPER_ALNUM:      # base32's alphabet is exactly A-Z2-7, and much cheaper than choices()
            nb = (n * 5 + 7) // 8
            return base64.b32encode(self.r.getrandbits(nb * 8).to_bytes(nb, "little")).decode("ascii")[:n]
        return "".join(self.r.choices(alphabet, k=n))

    def uuid(self):
        h = "%032x" % self.r.getrandbits(128)
        return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + UUID_VARIANT[h[16]] + h[17:20] + "-" + h[20:]

    def ts(self, t=None):
        s = int(self.t if t is None else t)
        if self._tcache[0] == s:
            return self._tcache[1]
        v = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
        self._tcache = (s, v)
        return v

    def b64(self, n, pad=True):
        nb = (n * 3 + 3) // 4
        s = base64.b64encode(self.r.getrandbits(nb * 8).to_bytes(nb, "little")).decode("ascii")[:n]
        return s + "=" if pad else s

    def ip(self):
        return self.ip_pool[self.rr(len(self.ip_pool))]

    def _ip(self):
        r = self.r.random()
        if r < 0.45:
            return "%s.%d" % (self.ch(("192.0.2", "198.51.100", "203.0.113")), self.rr(1, 255))
        if r < 0.8:
            return "10.%d.%d.%d" % (self.rr(0, 64), self.rr(0, 256), self.rr(1, 255))
        return "2001:db8:%x:%x::%x" % (self.r.getrandbits(16), self.r.getrandbits(16), self.r.getrandbits(16))

    def principal_id(self, prefix):
        return prefix + self.alnum(17)

    # ---- identity pools ------------------------------------------------------------------
    def _role_id(self, acct, role):
        k = (acct, role)
        if k not in self.role_ids:
            self.role_ids[k] = self.principal_id("AROA")
        return self.role_ids[k]

    def _assumed(self, acct, role, session, path="", mfa="false", ec2=False, created=None):
        rid = self._role_id(acct, role)
        ctx = {
            "sessionIssuer": {"type": "Role", "principalId": rid, "arn": "arn:aws:iam::%s:role/%s%s" % (acct, path, role),
                              "accountId": acct, "userName": role},
            "attributes": {"creationDate": created or self.ts(START_TIME - self.rr(60, 6 * 3600)),
                           "mfaAuthenticated": mfa},
        }
        if not ec2:
            ctx = {"sessionIssuer": ctx["sessionIssuer"], "webIdFederationData": {}, "attributes": ctx["attributes"]}
        else:
            ctx["ec2RoleDelivery"] = "2.0" if self.r.random() < 0.85 else "1.0"
        return {"type": "AssumedRole", "principalId": "%s:%s" % (rid, session),
                "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, session),
                "accountId": acct, "accessKeyId": "ASIA" + self.alnum(16), "sessionContext": ctx}

    def _iam_user(self, acct, name, console=False):
        u = {"type": "IAMUser", "principalId": self.principal_id("AIDA"), "arn": "arn:aws:iam::%s:user/%s" % (acct, name),
             "accountId": acct, "accessKeyId": ("ASIA" if console else "AKIA") + self.alnum(16), "userName": name}
        if console:
            u["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                   "attributes": {"creationDate": self.ts(START_TIME - self.rr(60, 3600)),
                                                  "mfaAuthenticated": "true" if self.r.random() < 0.7 else "false"}}
        return u

    def _build_pools(self):
        r = self.r
        accts = [MAIN_ACCOUNT] + OTHER_ACCOUNTS
        self.buckets = {a: ["%s-%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS), self.ch(BUCKET_SUFFIXES)) + ("-" + a[-4:] if r.random() < 0.5 else "")
                            for _ in range(14)] for a in accts}
        self.kms_keys = {a: [self.uuid() for _ in range(8)] for a in accts}
        self.vpcs = {a: ["vpc-0" + self.hexs(16) for _ in range(4)] for a in accts}
        self.sgs = {a: ["sg-0" + self.hexs(16) for _ in range(20)] for a in accts}
        self.subnets = {a: ["subnet-0" + self.hexs(16) for _ in range(12)] for a in accts}
        self.instances = {a: ["i-0" + self.hexs(16) for _ in range(120)] for a in accts}
        self.tables = {a: ["%s-%s" % (self.ch(APP_NAMES), self.ch(("sessions", "orders", "events", "state", "locks", "users"))) for _ in range(10)] for a in accts}
        self.functions = {a: ["%s-%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS), self.ch(("handler", "worker", "api", "consumer", "cron"))) for _ in range(20)] for a in accts}
        self.roles = {a: ["%s-%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS), self.ch(("role", "task-role", "exec", "service-role"))) for _ in range(25)] for a in accts}

        # workload identities (EC2 instance profiles, Lambda, ECS tasks, CI)
        self.workload = {}
        self.humans = {}
        self.services = []
        for a in accts:
            pool = []
            for i in range(60):
                pool.append(self._assumed(a, self.ch(self.roles[a]), self.ch(self.instances[a]), ec2=True))
            for fn in self.functions[a]:
                pool.append(self._assumed(a, fn + "-exec", fn))
            for i in range(30):
                pool.append(self._assumed(a, self.ch(self.roles[a]), self.hexs(32)))
            for i in range(6):
                pool.append(self._assumed(a, "github-actions-deploy", "GitHubActions"))
                pool.append(self._assumed(a, "AWSServiceRoleForAutoScaling", "AutoScaling", path="aws-service-role/autoscaling.amazonaws.com/"))
            pool.append(self._assumed(a, "terraform-ci", "terraform-%d" % self.rr(10 ** 9, 10 ** 10)))
            self.workload[a] = pool
            hp = []
            for i in range(40):
                name = "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES))
                ps = self.ch(SSO_PERMSETS)
                role = "AWSReservedSSO_%s_%s" % (ps, self.hexs(16))
                hp.append(self._assumed(a, role, name + "@example.com", path="aws-reserved/sso.amazonaws.com/"))
            for i in range(12):
                hp.append(self._iam_user(a, "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES)), console=r.random() < 0.4))
            for n in ("ci-deployer", "backup-agent", "legacy-sync", "datadog-integration"):
                hp.append(self._iam_user(a, n))
            self.humans[a] = hp
        self.intl = {}
        for a in accts:
            pool = []
            for name in INTL_NAMES:
                role = "AWSReservedSSO_%s_%s" % (self.ch(SSO_PERMSETS), self.hexs(16))
                pool.append(self._assumed(a, role, name + "@example.com", path="aws-reserved/sso.amazonaws.com/"))
                pool.append(self._iam_user(a, name))
            self.intl[a] = pool
        self.console_users = {a: [self._iam_user(a, "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES)), console=False) for _ in range(20)] for a in accts}
        # pool identities are immutable and live for the whole run: encode each once
        self.ident_json = {}
        for pools in (self.workload, self.humans, self.intl):
            for lst in pools.values():
                for ident in lst:
                    self.ident_json[id(ident)] = json.dumps(ident, separators=(",", ":"))

    def identity(self, acct, kind, flag_u):
        r = self.r
        if flag_u and kind in ("human", "any", "workload"):
            return self.ch(self.intl[acct])
        if kind == "any":
            kind = "workload" if r.random() < 0.72 else "human"
        if kind == "workload":
            return self.ch(self.workload[acct])
        return self.ch(self.humans[acct])

    def root_identity(self, acct, invoked_by=None):
        u = {"type": "Root", "principalId": acct, "arn": "arn:aws:iam::%s:root" % acct, "accountId": acct}
        if self.r.random() < 0.6:
            u["accessKeyId"] = "ASIA" + self.alnum(16)
            u["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                   "attributes": {"creationDate": self.ts(self.t - self.rr(30, 1800)),
                                                  "mfaAuthenticated": "true" if self.r.random() < 0.8 else "false"}}
        if invoked_by:
            u["invokedBy"] = invoked_by
        return u

    def service_identity(self, svc):
        return {"type": "AWSService", "invokedBy": svc}

    # ---- policy documents (embedded as strings, so they carry escaped quotes) ------------
    def policy_doc(self, acct, n_statements=None, pretty=None):
        r = self.r
        n = n_statements or self.ch((1, 1, 2, 2, 3, 4, 6))
        stmts = []
        for i in range(n):
            svc = self.ch(("s3", "dynamodb", "sqs", "kms", "logs", "ssm", "secretsmanager", "ec2"))
            acts = r.sample(("Get*", "List*", "Describe*", "Put*", "Delete*", "Update*", "Create*", "Query", "Scan", "Decrypt"), self.ch((1, 2, 3, 4)))
            st = {"Sid": "Allow%s%d" % (svc.capitalize(), i), "Effect": "Allow" if r.random() < 0.9 else "Deny",
                  "Action": ["%s:%s" % (svc, a) for a in acts],
                  "Resource": ["arn:aws:%s:*:%s:%s" % (svc, acct, self.ch(("*", "table/" + self.ch(self.tables[acct]), "key/" + self.ch(self.kms_keys[acct]))))]}
            if r.random() < 0.25:
                st["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": self.ch(APP_NAMES)}}
            if r.random() < 0.1:
                st["Condition"] = {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "198.51.100.0/24"]}}
            stmts.append(st)
        doc = {"Version": "2012-10-17", "Statement": stmts}
        if pretty if pretty is not None else r.random() < 0.5:
            return json.dumps(doc, indent=4)   # IAM logs the document as the caller sent it: often with newlines
        return json.dumps(doc, separators=(",", ":"))

    def trust_doc(self, acct):
        svc = self.ch(("ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com"))
        return json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": svc}, "Action": "sts:AssumeRole"}]})

    # ---- API builders ----------------------------------------------------------------------
    # Each returns (eventSource, eventName, requestParameters, responseElements, readOnly, extra).
    # extra: None or a dict of additional top-level fields (resources, additionalEventData ...),
    # with the special keys "_data" (data event), "_host" (tlsDetails host) and "_ua_svc".
    def _build_tables(self):
        routine = [
            (7.0, self.b_ec2_describe), (12.0, self.b_s3_data), (3.5, self.b_s3_mgmt_read), (4.0, self.b_iam_read),
            (7.0, self.b_sts_assume), (2.0, self.b_sts_caller), (6.0, self.b_kms_crypto), (3.0, self.b_lambda),
            (6.0, self.b_dynamodb), (4.0, self.b_logs), (3.0, self.b_secrets_ssm), (6.0, self.b_ssm_instance),
            (2.5, self.b_ecr), (2.5, self.b_monitoring), (2.0, self.b_misc_reads), (1.0, self.b_cloudtrail_read),
            (0.6, self.b_config_read), (0.4, self.b_org_read),
        ]
        self.routine = weighted([(f, w) for w, f in routine])
        cis = [
            (16, self.c_iam), (5, self.c_cloudtrail), (9, self.c_s3_policy), (4, self.c_config),
            (14, self.c_security_group), (6, self.c_nacl), (5, self.c_gateway), (8, self.c_route),
            (7, self.c_vpc), (4, self.c_kms), (4, self.c_org),
        ]
        self.cis = weighted([(f, w) for w, f in cis])
        misc = [
            (4.0, self.m_ec2_write), (1.5, self.m_run_instances), (3.0, self.m_iam_write), (3.0, self.m_s3_write),
            (2.5, self.m_lambda_write), (1.2, self.m_ecs), (1.2, self.m_cfn), (5.0, self.m_policy_writes),
            (2.5, self.m_logs_query), (0.8, self.m_lookup_events), (1.2, self.m_kms_misc), (1.0, self.m_web_identity),
            (1.5, self.m_service_event), (0.8, self.m_ec2_near_miss), (0.5, self.m_vpce_denied),
        ]
        self.misc = weighted([(f, w) for w, f in misc])

    # -- routine reads
    def b_ec2_describe(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("DescribeInstances", "DescribeInstances", "DescribeInstanceStatus", "DescribeSecurityGroups",
                         "DescribeVolumes", "DescribeSubnets", "DescribeVpcs", "DescribeNetworkInterfaces", "DescribeTags",
                         "DescribeRouteTables", "DescribeImages", "DescribeSnapshots", "DescribeAddresses",
                         "DescribeNetworkAcls", "DescribeInternetGateways", "DescribeAvailabilityZones"))
        x = r.random()
        if name == "DescribeInstances" and x < 0.5:
            rp = {"instancesSet": {"items": [{"instanceId": i} for i in r.sample(self.instances[a], self.ch((1, 1, 2, 5)))]},
                  "filterSet": {}, "includeAllInstances": False}
        elif x < 0.6:
            rp = {"filterSet": {"items": [{"name": self.ch(("tag:Name", "vpc-id", "instance-state-name", "tag:aws:autoscaling:groupName")),
                                            "valueSet": {"items": [{"value": self.ch(self.vpcs[a] + ["running", "%s-%s-asg" % (self.ch(APP_NAMES), self.ch(ENVS))])}]}}]},
                  "maxResults": self.ch((100, 500, 1000))}
        elif x < 0.8:
            rp = {"maxResults": 1000, "filterSet": {}, "nextToken": self.b64(96, pad=False) if r.random() < 0.3 else None}
            if rp["nextToken"] is None:
                del rp["nextToken"]
        else:
            rp = None
        return ("ec2.amazonaws.com", name, rp, None, True, {"_ua_svc": "ec2"})

    def s3_extra(self, c, bucket, out_bytes, in_bytes):
        return {
            "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
                                    "bytesTransferredIn": in_bytes, "AuthenticationMethod": "AuthHeader",
                                    "x-amz-id-2": self.b64(75), "bytesTransferredOut": out_bytes},
            "_host": "%s.s3.%s.amazonaws.com" % (bucket, c["region"]), "_reqid": self.alnum(16, "0123456789ABCDEF"),
        }

    def b_s3_data(self, c):
        r = self.r
        a = c["acct"]
        b = self.ch(self.buckets[a])
        name = self.ch(("GetObject", "GetObject", "GetObject", "PutObject", "PutObject", "HeadObject", "ListObjects", "DeleteObject"))
        key = "%s/%s/%04d/%02d/%s%s" % (self.ch(("raw", "processed", "uploads", "exports", "tenant-%d" % self.rr(1, 400))),
                                      self.ch(APP_NAMES), 2026, self.rr(1, 13), self.hexs(self.ch((8, 16, 32))), self.ch(FILE_EXT))
        if name == "ListObjects":
            rp = {"bucketName": b, "Host": "%s.s3.%s.amazonaws.com" % (b, c["region"]), "list-type": "2",
                  "prefix": key.rsplit("/", 2)[0] + "/", "delimiter": "/", "encoding-type": "url"}
            res = [{"accountId": a, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + b}]
        else:
            rp = {"bucketName": b, "Host": "%s.s3.%s.amazonaws.com" % (b, c["region"]), "key": key}
            if name == "PutObject" and r.random() < 0.5:
                rp["x-amz-server-side-encryption"] = "aws:kms"
            res = [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::%s/%s" % (b, key)},
                   {"accountId": a, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + b}]
        size = int(r.lognormvariate(9, 2.2))
        resp = None
        if name == "PutObject":
            resp = {"x-amz-server-side-encryption": "AES256", "x-amz-version-id": self.alnum(32, ALNUM)} if r.random() < 0.6 else None
        ex = self.s3_extra(c, b, size if name == "GetObject" else 0, size if name == "PutObject" else 0)
        ex["resources"] = res
        ex["_data"] = True
        return ("s3.amazonaws.com", name, rp, resp, name in ("GetObject", "HeadObject", "ListObjects"), ex)

    def b_s3_mgmt_read(self, c):
        r = self.r
        b = self.ch(self.buckets[c["acct"]])
        name = self.ch(("ListBuckets", "GetBucketLocation", "GetBucketAcl", "GetBucketPolicy", "GetBucketVersioning",
                         "GetBucketEncryption", "GetBucketTagging", "GetBucketPolicyStatus", "GetBucketPublicAccessBlock"))
        if name == "ListBuckets":
            rp = {"Host": "s3.%s.amazonaws.com" % c["region"]}
        else:
            rp = {"bucketName": b, "Host": "%s.s3.%s.amazonaws.com" % (b, c["region"]), name[9:].lower() or "location": ""}
        ex = self.s3_extra(c, b, 0, 0)
        del ex["additionalEventData"]["bytesTransferredOut"]
        return ("s3.amazonaws.com", name, rp, None, True, ex)

    def b_iam_read(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("GetRole", "GetRole", "ListRoles", "GetPolicy", "GetPolicyVersion", "ListAttachedRolePolicies",
                         "GetUser", "ListUsers", "ListRolePolicies", "GetRolePolicy", "ListAccessKeys", "GetAccountSummary",
                         "ListInstanceProfilesForRole", "GetAccountAuthorizationDetails"))
        role = self.ch(self.roles[a])
        if name in ("GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "ListInstanceProfilesForRole"):
            rp = {"roleName": role}
        elif name == "GetRolePolicy":
            rp = {"roleName": role, "policyName": role + "-inline"}
        elif name in ("GetPolicy", "GetPolicyVersion"):
            rp = {"policyArn": "arn:aws:iam::%s:policy/%s-policy" % (a, role)}
            if name == "GetPolicyVersion":
                rp["versionId"] = "v%d" % self.rr(1, 6)
        elif name == "GetUser":
            rp = {"userName": "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES))} if r.random() < 0.6 else None
        elif name == "GetAccountAuthorizationDetails":
            rp = {"filter": ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]}
        else:
            rp = {"maxItems": 100} if r.random() < 0.5 else None
        return ("iam.amazonaws.com", name, rp, None, True, {"_region": "us-east-1", "_host": "iam.amazonaws.com"})

    def session_token(self):
        return "IQoJb3JpZ2luX2Vj" + self.b64(self.ch((556, 620, 700, 760, 880)), pad=False)

    def b_sts_assume(self, c):
        r = self.r
        a = c["acct"]
        role = self.ch(self.roles[a])
        sess = self.ch(("botocore-session-%d" % self.rr(1700000000, 1800000000),
                         "aws-go-sdk-%d" % self.rr(10 ** 18, 10 ** 19), self.ch(self.instances[a]),
                         "%s-%s" % (self.ch(APP_NAMES), self.hexs(8))))
        rid = self._role_id(a, role)
        arn = "arn:aws:iam::%s:role/%s" % (a, role)
        rp = {"roleArn": arn, "roleSessionName": sess, "durationSeconds": self.ch((900, 3600, 3600, 43200))}
        if r.random() < 0.12:
            rp["policy"] = self.policy_doc(a, 1, pretty=False)
        if r.random() < 0.15:
            rp["externalId"] = self.hexs(24)
        exp = self.t + rp["durationSeconds"]
        resp = {"credentials": {"accessKeyId": "ASIA" + self.alnum(16), "sessionToken": self.session_token(),
                                "expiration": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(exp))},
                "assumedRoleUser": {"assumedRoleId": "%s:%s" % (rid, sess), "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (a, role, sess)}}
        ex = {"resources": [{"accountId": a, "type": "AWS::IAM::Role", "ARN": arn}], "sharedEventID": self.uuid(),
              "_host": "sts.%s.amazonaws.com" % c["region"]}
        if r.random() < 0.5:
            c["identity"] = self.service_identity(self.ch(("ec2.amazonaws.com", "lambda.amazonaws.com", "ecs-tasks.amazonaws.com")))
            c["ua"] = c["ip"] = c["identity"]["invokedBy"]
            ex["_notls"] = True
        return ("sts.amazonaws.com", "AssumeRole", rp, resp, True, ex)

    def b_sts_caller(self, c):
        name = self.ch(("GetCallerIdentity", "GetCallerIdentity", "GetSessionToken", "DecodeAuthorizationMessage"))
        rp = None
        if name == "GetSessionToken":
            rp = {"durationSeconds": 43200}
        elif name == "DecodeAuthorizationMessage":
            rp = {"encodedMessage": self.b64(300, pad=False)}
        return ("sts.amazonaws.com", name, rp, None, True, {"_host": "sts.%s.amazonaws.com" % c["region"]})

    def b_kms_crypto(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("Decrypt", "Decrypt", "Decrypt", "GenerateDataKey", "GenerateDataKey", "Encrypt", "DescribeKey", "ListAliases"))
        key = "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, self.ch(self.kms_keys[a]))
        ex = {"resources": [{"accountId": a, "type": "AWS::KMS::Key", "ARN": key}], "_host": "kms.%s.amazonaws.com" % c["region"]}
        if name == "ListAliases":
            return ("kms.amazonaws.com", name, {"limit": 100} if r.random() < 0.5 else None, None, True, {"_host": ex["_host"]})
        if name == "DescribeKey":
            return ("kms.amazonaws.com", name, {"keyId": "alias/%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))}, None, True, ex)
        svc = self.ch(("s3", "secretsmanager", "dynamodb", "lambda", "sqs", "ssm", "logs", "rds"))
        if svc == "s3":
            b = self.ch(self.buckets[a])
            ctx = {"aws:s3:arn": "arn:aws:s3:::%s/%s/%s" % (b, self.ch(APP_NAMES), self.hexs(16))}
        elif svc == "secretsmanager":
            ctx = {"SecretARN": "arn:aws:secretsmanager:%s:%s:secret:%s/%s-%s" % (c["region"], a, self.ch(ENVS), self.ch(APP_NAMES), self.alnum(6, ALNUM)),
                   "SecretVersionId": self.uuid()}
        elif svc == "dynamodb":
            ctx = {"aws:dynamodb:tableName": self.ch(self.tables[a]), "aws:dynamodb:subscriberId": a}
        elif svc == "lambda":
            ctx = {"aws:lambda:FunctionArn": "arn:aws:lambda:%s:%s:function:%s" % (c["region"], a, self.ch(self.functions[a]))}
        else:
            ctx = {"aws:%s:arn" % svc: "arn:aws:%s:%s:%s:%s" % (svc, c["region"], a, self.hexs(12))}
        rp = {"encryptionContext": ctx, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        if name != "Decrypt":
            rp["keyId"] = key
            if name == "GenerateDataKey":
                rp = {"keyId": key, "encryptionContext": ctx, "keySpec": "AES_256"}
        if r.random() < 0.55:
            host = svc + ".amazonaws.com"
            c["identity"] = self.service_identity(host) if r.random() < 0.5 else c["identity"]
            c["ip"] = c["ua"] = host
            ex["_notls"] = True
        return ("kms.amazonaws.com", name, rp, None, True, ex)

    def b_lambda(self, c):
        r = self.r
        a = c["acct"]
        fn = self.ch(self.functions[a])
        farn = "arn:aws:lambda:%s:%s:function:%s" % (c["region"], a, fn)
        name = self.ch(("Invoke", "Invoke", "GetFunction", "ListFunctions20150331", "GetFunctionConfiguration", "ListEventSourceMappings20150331"))
        if name == "Invoke":
            rp = {"functionName": farn, "invocationType": self.ch(("RequestResponse", "Event")), "sourceArn": "arn:aws:sqs:%s:%s:%s-queue" % (c["region"], a, fn)}
            ex = {"resources": [{"accountId": a, "type": "AWS::Lambda::Function", "ARN": farn}], "_data": True,
                  "additionalEventData": {"functionVersion": farn + ":$LATEST"}}
            return ("lambda.amazonaws.com", name, rp, None, False, ex)
        rp = {"functionName": fn} if name != "ListFunctions20150331" else ({"functionVersion": "ALL"} if r.random() < 0.5 else None)
        return ("lambda.amazonaws.com", name, rp, None, True, None)

    def b_dynamodb(self, c):
        r = self.r
        a = c["acct"]
        t = self.ch(self.tables[a])
        tarn = "arn:aws:dynamodb:%s:%s:table/%s" % (c["region"], a, t)
        name = self.ch(("GetItem", "GetItem", "PutItem", "Query", "UpdateItem", "BatchGetItem", "DescribeTable", "Scan"))
        if name == "DescribeTable":
            return ("dynamodb.amazonaws.com", name, {"tableName": t}, None, True, None)
        if name == "BatchGetItem":
            rp = {"requestItems": [{"tableName": t, "keys": [{"pk": "HIDDEN_DUE_TO_SECURITY_REASONS"}] * self.ch((1, 3, 10)), "consistentRead": False}]}
        else:
            rp = {"tableName": t, "key": {"pk": "HIDDEN_DUE_TO_SECURITY_REASONS", "sk": "HIDDEN_DUE_TO_SECURITY_REASONS"}}
            if name == "Query":
                rp = {"tableName": t, "keyConditionExpression": "#pk = :pk AND begins_with(#sk, :sk)", "limit": 50,
                      "expressionAttributeNames": {"#pk": "pk", "#sk": "sk"}, "expressionAttributeValues": {":pk": "HIDDEN_DUE_TO_SECURITY_REASONS", ":sk": "HIDDEN_DUE_TO_SECURITY_REASONS"}}
            if name in ("PutItem", "UpdateItem"):
                rp["returnValues"] = "NONE"
                rp["returnConsumedCapacity"] = "TOTAL"
        resp = {"consumedCapacity": {"tableName": t, "capacityUnits": self.ch((0.5, 1.0, 2.0)), "throughput": None}} if name in ("PutItem", "UpdateItem") and r.random() < 0.5 else None
        if resp:
            del resp["consumedCapacity"]["throughput"]
        ex = {"resources": [{"accountId": a, "type": "AWS::DynamoDB::Table", "ARN": tarn}], "_data": True,
              "_host": "dynamodb.%s.amazonaws.com" % c["region"]}
        return ("dynamodb.amazonaws.com", name, rp, resp, name not in ("PutItem", "UpdateItem"), ex)

    def b_logs(self, c):
        r = self.r
        a = c["acct"]
        grp = "/aws/lambda/%s" % self.ch(self.functions[a]) if r.random() < 0.6 else "/ecs/%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))
        name = self.ch(("PutLogEvents", "PutLogEvents", "CreateLogStream", "DescribeLogStreams", "DescribeLogGroups", "GetLogEvents"))
        if name == "PutLogEvents":
            rp = {"logGroupName": grp, "logStreamName": "2026/12/01/[$LATEST]" + self.hexs(32)}
            return ("logs.amazonaws.com", name, rp, None, False,
                    {"_data": True, "resources": [{"accountId": a, "type": "AWS::Logs::LogGroup", "ARN": "arn:aws:logs:%s:%s:log-group:%s" % (c["region"], a, grp)}]})
        if name == "CreateLogStream":
            return ("logs.amazonaws.com", name, {"logGroupName": grp, "logStreamName": "%s/%s" % (self.ch(APP_NAMES), self.hexs(32))}, None, False, None)
        if name == "DescribeLogGroups":
            return ("logs.amazonaws.com", name, {"logGroupNamePrefix": grp.rsplit("/", 1)[0]} if r.random() < 0.6 else None, None, True, None)
        return ("logs.amazonaws.com", name, {"logGroupName": grp, "limit": 50, "descending": True, "orderBy": "LastEventTime"}, None, True, None)

    def b_secrets_ssm(self, c):
        r = self.r
        a = c["acct"]
        if r.random() < 0.5:
            sid = "arn:aws:secretsmanager:%s:%s:secret:%s/%s/db-credentials-%s" % (c["region"], a, self.ch(ENVS), self.ch(APP_NAMES), self.alnum(6, ALNUM))
            return ("secretsmanager.amazonaws.com", self.ch(("GetSecretValue", "GetSecretValue", "DescribeSecret")), {"secretId": sid}, None, True, None)
        names = ["/%s/%s/%s" % (self.ch(ENVS), self.ch(APP_NAMES), self.ch(("db_host", "api_key", "feature_flags", "endpoint"))) for _ in range(self.ch((1, 1, 3, 8)))]
        if len(names) == 1:
            return ("ssm.amazonaws.com", "GetParameter", {"name": names[0], "withDecryption": r.random() < 0.5}, None, True, None)
        return ("ssm.amazonaws.com", "GetParameters", {"names": names, "withDecryption": True}, None, True, None)

    def b_ssm_instance(self, c):
        r = self.r
        a = c["acct"]
        inst = self.ch(self.instances[a])
        name = self.ch(("UpdateInstanceInformation", "UpdateInstanceInformation", "ListInstanceAssociations", "DescribeInstanceInformation", "GetDeployablePatchSnapshotForInstance"))
        c["identity"] = self._inst_identity(a, inst)
        c["ua"] = "amazon-ssm-agent/3.3.%d.0" % self.rr(300, 1500)
        if name == "UpdateInstanceInformation":
            rp = {"instanceId": inst, "agentVersion": c["ua"].split("/")[1], "agentStatus": "Active", "platformType": "Linux",
                  "platformName": "Amazon Linux", "platformVersion": "2023", "iPAddress": "10.%d.%d.%d" % (self.rr(64), self.rr(256), self.rr(1, 255)),
                  "computerName": "ip-10-0-%d-%d.%s.compute.internal" % (self.rr(256), self.rr(256), c["region"]), "agentName": "amazon-ssm-agent",
                  "availabilityZone": c["region"] + self.ch("abc"), "availabilityZoneId": "use1-az%d" % self.rr(1, 7)}
            return ("ssm.amazonaws.com", name, rp, None, False, None)
        if name == "ListInstanceAssociations":
            return ("ssm.amazonaws.com", name, {"instanceId": inst, "maxResults": 20}, None, True, None)
        if name == "DescribeInstanceInformation":
            c["identity"] = self.identity(a, "human", False)
            c["ua"] = None
            return ("ssm.amazonaws.com", name, {"filters": [{"key": "InstanceIds", "values": [inst]}]}, None, True, None)
        return ("ssm.amazonaws.com", name, {"instanceId": inst, "snapshotId": self.uuid(), "baselineOverride": {"operatingSystem": "AMAZON_LINUX_2023", "approvalRules": {"patchRules": [{"patchFilterGroup": {"patchFilters": [{"key": "CLASSIFICATION", "values": ["Security"]}]}, "complianceLevel": "UNSPECIFIED", "approveAfterDays": 7, "enableNonSecurity": False}]}}}, None, True, None)

    def _inst_identity(self, a, inst):
        k = ("inst", a, inst)
        v = self.role_ids.get(k)
        if v is None:
            v = self._assumed(a, self.ch(self.roles[a]), inst, ec2=True)
            self.role_ids[k] = v
            self.ident_json[id(v)] = json.dumps(v, separators=(",", ":"))
        return v

    def b_ecr(self, c):
        r = self.r
        a = c["acct"]
        repo = "%s/%s" % (self.ch(APP_NAMES), self.ch(("api", "worker", "web", "migrations")))
        name = self.ch(("GetAuthorizationToken", "BatchGetImage", "GetDownloadUrlForLayer", "BatchCheckLayerAvailability", "DescribeImages"))
        if name == "GetAuthorizationToken":
            rp, ro = {"registryIds": [a]} if r.random() < 0.3 else None, True
            if r.random() < 0.5:
                c["identity"] = self.service_identity("ecs-tasks.amazonaws.com")
                c["ip"] = c["ua"] = "ecs-tasks.amazonaws.com"
            return ("ecr.amazonaws.com", name, rp, None, ro, None)
        if name == "BatchGetImage":
            rp = {"imageIds": [{"imageTag": self.ch(("latest", "v1.%d.%d" % (self.rr(30), self.rr(10)), self.hexs(7)))}],
                  "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json", "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json"],
                  "repositoryName": repo, "registryId": a}
        elif name == "GetDownloadUrlForLayer":
            rp = {"repositoryName": repo, "registryId": a, "layerDigest": "sha256:" + self.hexs(64)}
        elif name == "BatchCheckLayerAvailability":
            rp = {"repositoryName": repo, "registryId": a, "layerDigests": ["sha256:" + self.hexs(64) for _ in range(self.ch((1, 3, 6)))]}
        else:
            rp = {"repositoryName": repo, "registryId": a, "filter": {"tagStatus": "TAGGED"}}
        ex = {"resources": [{"accountId": a, "ARN": "arn:aws:ecr:%s:%s:repository/%s" % (c["region"], a, repo)}]}
        return ("ecr.amazonaws.com", name, rp, None, True, ex)

    def b_monitoring(self, c):
        r = self.r
        name = self.ch(("GetMetricData", "GetMetricData", "DescribeAlarms", "ListMetrics", "GetMetricStatistics"))
        if name == "GetMetricData":
            rp = {"metricDataQueries": [{"id": "m%d" % i, "metricStat": {"metric": {"namespace": self.ch(("AWS/EC2", "AWS/Lambda", "AWS/ApplicationELB", "AWS/RDS")),
                                                                                   "metricName": self.ch(("CPUUtilization", "Invocations", "Errors", "Duration", "RequestCount")),
                                                                                   "dimensions": [{"name": "FunctionName", "value": self.ch(self.functions[c["acct"]])}]},
                                                                        "period": 300, "stat": self.ch(("Average", "Sum", "p99"))}, "returnData": True}
                                        for i in range(self.ch((1, 2, 4)))],
                  "startTime": self.ts(self.t - 10800), "endTime": self.ts()}
        elif name == "DescribeAlarms":
            rp = {"alarmNamePrefix": self.ch(APP_NAMES)} if r.random() < 0.4 else {"stateValue": "ALARM"}
        else:
            rp = {"namespace": "AWS/EC2"} if name == "ListMetrics" else {"namespace": "AWS/EC2", "metricName": "CPUUtilization", "period": 60,
                                                                          "startTime": self.ts(self.t - 3600), "endTime": self.ts(), "statistics": ["Average"]}
        c["ua"] = self.ch(("Grafana/10.4.2 AWS-SDK-Go/1.50.8", "Amazon CloudWatch Agent", None))
        return ("monitoring.amazonaws.com", name, rp, None, True, None)

    def b_misc_reads(self, c):
        r = self.r
        a = c["acct"]
        svc, name, rp = self.ch((
            ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", {"autoScalingGroupNames": ["%s-%s-asg" % (self.ch(APP_NAMES), self.ch(ENVS))]}),
            ("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", {"targetGroupArn": "arn:aws:elasticloadbalancing:%s:%s:targetgroup/%s/%s" % (c["region"], a, self.ch(APP_NAMES), self.hexs(16))}),
            ("ecs.amazonaws.com", "DescribeTasks", {"cluster": "%s-cluster" % self.ch(ENVS), "tasks": [self.hexs(32) for _ in range(self.ch((1, 2, 5)))]}),
            ("eks.amazonaws.com", "DescribeCluster", {"name": "%s-eks" % self.ch(ENVS)}),
            ("cloudformation.amazonaws.com", "DescribeStacks", {"stackName": "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))}),
            ("route53.amazonaws.com", "ListResourceRecordSets", {"hostedZoneId": "Z" + self.alnum(20), "maxItems": "300"}),
            ("rds.amazonaws.com", "DescribeDBInstances", None),
            ("sqs.amazonaws.com", "GetQueueAttributes", {"queueUrl": "https://sqs.%s.amazonaws.com/%s/%s-queue" % (c["region"], a, self.ch(APP_NAMES)), "attributeNames": ["All"]}),
            ("tagging.amazonaws.com", "GetResources", {"resourceTypeFilters": ["ec2:instance"], "resourcesPerPage": 100}),
        ))
        return (svc, name, rp, None, True, None)

    def b_cloudtrail_read(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("DescribeTrails", "GetTrailStatus", "GetEventSelectors", "ListTrails", "GetInsightSelectors"))
        rp = {"trailNameList": [], "includeShadowTrails": True} if name == "DescribeTrails" else (
            None if name == "ListTrails" else {"name": "arn:aws:cloudtrail:us-east-1:%s:trail/org-trail" % a})
        return ("cloudtrail.amazonaws.com", name, rp, None, True, None)

    def b_config_read(self, c):
        r = self.r
        name = self.ch(("DescribeConfigurationRecorders", "DescribeConfigurationRecorderStatus", "DescribeDeliveryChannels", "PutEvaluations"))
        if name == "PutEvaluations":
            c["identity"] = self.service_identity("config.amazonaws.com")
            c["ip"] = c["ua"] = "config.amazonaws.com"
            rp = {"evaluations": [{"complianceResourceType": "AWS::EC2::SecurityGroup", "complianceResourceId": self.ch(self.sgs[c["acct"]]),
                                   "complianceType": self.ch(("COMPLIANT", "NON_COMPLIANT")), "orderingTimestamp": self.ts(self.t - 60)}],
                  "resultToken": self.b64(200, pad=False), "testMode": False}
            return ("config.amazonaws.com", name, rp, None, False, {"_notls": True})
        return ("config.amazonaws.com", name, None, None, True, None)

    def b_org_read(self, c):
        r = self.r
        name = self.ch(("DescribeOrganization", "ListAccounts", "ListPoliciesForTarget", "DescribeAccount"))
        rp = None if name in ("DescribeOrganization", "ListAccounts") else {"accountId": self.ch(OTHER_ACCOUNTS)} if name == "DescribeAccount" else {"targetId": self.ch(OTHER_ACCOUNTS), "filter": "SERVICE_CONTROL_POLICY"}
        return ("organizations.amazonaws.com", name, rp, None, True, {"_region": "us-east-1", "_host": "organizations.us-east-1.amazonaws.com"})

    # -- CIS-matching changes
    def c_iam(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("PutRolePolicy", "PutRolePolicy", "PutUserPolicy", "PutGroupPolicy", "DeleteRolePolicy", "DeleteUserPolicy",
                         "DeleteGroupPolicy", "CreatePolicy", "DeletePolicy", "CreatePolicyVersion", "DeletePolicyVersion",
                         "AttachRolePolicy", "AttachRolePolicy", "DetachRolePolicy", "AttachUserPolicy", "DetachUserPolicy",
                         "AttachGroupPolicy", "DetachGroupPolicy"))
        role = self.ch(self.roles[a])
        target = {"Role": ("roleName", role), "User": ("userName", "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES))),
                  "Group": ("groupName", self.ch(("developers", "admins", "readonly", "oncall")))}
        parn = "arn:aws:iam::%s:policy/%s-policy" % (a, role) if r.random() < 0.6 else "arn:aws:iam::aws:policy/" + self.ch(("ReadOnlyAccess", "AmazonS3FullAccess", "AdministratorAccess", "AWSLambdaBasicExecutionRole"))
        resp = None
        if name.startswith(("Put", "Delete")) and name.endswith(("RolePolicy", "UserPolicy", "GroupPolicy")) and name not in ("DeletePolicy",):
            k, v = target[name[3:-6] if name.startswith("Put") else name[6:-6]]
            rp = {k: v, "policyName": "%s-inline-%s" % (v.split(".")[0], self.ch(("s3", "kms", "ddb", "sqs")))}
            if name.startswith("Put"):
                rp["policyDocument"] = self.policy_doc(a)
        elif name in ("CreatePolicy", "CreatePolicyVersion"):
            doc = self.policy_doc(a)
            if name == "CreatePolicy":
                pname = "%s-%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS), self.hexs(4))
                rp = {"policyName": pname, "policyDocument": doc, "description": "Managed by Terraform"}
                resp = {"policy": {"policyName": pname, "policyId": self.principal_id("ANPA"), "arn": "arn:aws:iam::%s:policy/%s" % (a, pname),
                                   "path": "/", "defaultVersionId": "v1", "attachmentCount": 0, "permissionsBoundaryUsageCount": 0,
                                   "isAttachable": True, "createDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t)),
                                   "updateDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t))}}
            else:
                rp = {"policyArn": parn, "policyDocument": doc, "setAsDefault": True}
                resp = {"policyVersion": {"versionId": "v%d" % self.rr(2, 6), "isDefaultVersion": True,
                                          "createDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t))}}
        elif name == "DeletePolicy":
            rp = {"policyArn": parn}
        elif name == "DeletePolicyVersion":
            rp = {"policyArn": parn, "versionId": "v%d" % self.rr(1, 5)}
        else:
            kind = "Role" if "Role" in name else "User" if "User" in name else "Group"
            k, v = target[kind]
            rp = {k: v, "policyArn": parn}
        return ("iam.amazonaws.com", name, rp, resp, False, {"_region": "us-east-1", "_host": "iam.amazonaws.com", "_human": True})

    def c_cloudtrail(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateTrail", "UpdateTrail", "DeleteTrail", "StartLogging", "StartLogging", "StopLogging"))
        tname = self.ch(("management-events", "org-trail", "data-events-s3", "security-trail"))
        tarn = "arn:aws:cloudtrail:%s:%s:trail/%s" % (c["region"], a, tname)
        resp = None
        if name in ("CreateTrail", "UpdateTrail"):
            b = "aws-cloudtrail-logs-%s-%s" % (a, self.hexs(8))
            rp = {"name": tname, "s3BucketName": b, "isMultiRegionTrail": True, "includeGlobalServiceEvents": True,
                  "enableLogFileValidation": True, "isOrganizationTrail": False,
                  "cloudWatchLogsLogGroupArn": "arn:aws:logs:%s:%s:log-group:CloudTrail/DefaultLogGroup:*" % (c["region"], a),
                  "cloudWatchLogsRoleArn": "arn:aws:iam::%s:role/CloudTrail_CloudWatchLogs_Role" % a}
            if r.random() < 0.5:
                rp["kmsKeyId"] = "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, self.ch(self.kms_keys[a]))
            resp = dict(rp, trailARN=tarn, logFileValidationEnabled=True)
            del resp["enableLogFileValidation"]
        else:
            rp = {"name": tarn if r.random() < 0.6 else tname}
        return ("cloudtrail.amazonaws.com", name, rp, resp, False, {"resources": [{"accountId": a, "type": "AWS::CloudTrail::Trail", "ARN": tarn}]} if r.random() < 0.3 else None)

    def c_s3_policy(self, c):
        r = self.r
        a = c["acct"]
        b = self.ch(self.buckets[a])
        name = self.ch(("PutBucketAcl", "PutBucketPolicy", "PutBucketPolicy", "PutBucketCors", "PutBucketLifecycle", "PutBucketReplication",
                         "DeleteBucketPolicy", "DeleteBucketCors", "DeleteBucketLifecycle", "DeleteBucketReplication"))
        host = "%s.s3.%s.amazonaws.com" % (b, c["region"])
        sub = {"PutBucketAcl": "acl", "PutBucketPolicy": "policy", "PutBucketCors": "cors", "PutBucketLifecycle": "lifecycle",
               "PutBucketReplication": "replication", "DeleteBucketPolicy": "policy", "DeleteBucketCors": "cors",
               "DeleteBucketLifecycle": "lifecycle", "DeleteBucketReplication": "replication"}[name]
        rp = {"bucketName": b, "Host": host, sub: ""}
        if name == "PutBucketPolicy":
            rp["bucketPolicy"] = {"Version": "2012-10-17", "Statement": [
                {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                 "Resource": ["arn:aws:s3:::" + b, "arn:aws:s3:::%s/*" % b], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "AllowRole", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::%s:role/%s" % (self.ch(OTHER_ACCOUNTS), self.ch(self.roles[a]))},
                 "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::%s/*" % b]}]}
        elif name == "PutBucketAcl":
            rp["AccessControlPolicy"] = {"AccessControlList": {"Grant": [{"Grantee": {"xsi:type": "CanonicalUser", "ID": self.hexs(64),
                                                                                      "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance"}, "Permission": "FULL_CONTROL"}]},
                                         "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "Owner": {"ID": self.hexs(64)}}
        elif name == "PutBucketCors":
            rp["CORSConfiguration"] = {"CORSRule": [{"AllowedMethod": ["GET", "HEAD"], "AllowedOrigin": ["https://%s.example.com" % self.ch(APP_NAMES)],
                                                     "AllowedHeader": ["*"], "MaxAgeSeconds": 3000}], "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
        elif name == "PutBucketLifecycle":
            rp["LifecycleConfiguration"] = {"Rule": [{"ID": "expire-%d" % d, "Status": "Enabled", "Filter": {"Prefix": self.ch(("tmp/", "logs/", ""))},
                                                      "Expiration": {"Days": d}} for d in r.sample((7, 30, 90, 365), self.ch((1, 2)))],
                                            "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}
        elif name == "PutBucketReplication":
            rp["ReplicationConfiguration"] = {"Role": "arn:aws:iam::%s:role/s3-replication" % a,
                                              "Rule": {"ID": "replicate-all", "Status": "Enabled", "Priority": 1, "DeleteMarkerReplication": {"Status": "Disabled"},
                                                       "Filter": {}, "Destination": {"Bucket": "arn:aws:s3:::%s-replica" % b}}}
        ex = self.s3_extra(c, b, 0, self.rr(200, 2000) if name.startswith("Put") else 0)
        ex["resources"] = [{"accountId": a, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + b}]
        ex["_human"] = True
        return ("s3.amazonaws.com", name, rp, None, False, ex)

    def c_config(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("StopConfigurationRecorder", "DeleteDeliveryChannel", "PutDeliveryChannel", "PutConfigurationRecorder", "PutConfigurationRecorder"))
        if name == "PutConfigurationRecorder":
            rp = {"configurationRecorder": {"name": "default", "roleARN": "arn:aws:iam::%s:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig" % a,
                                            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": c["region"] == "us-east-1",
                                                               "resourceTypes": [], "exclusionByResourceTypes": {"resourceTypes": []},
                                                               "recordingStrategy": {"useOnly": "ALL_SUPPORTED_RESOURCE_TYPES"}},
                                            "recordingMode": {"recordingFrequency": "CONTINUOUS", "recordingModeOverrides": []}}}
        elif name == "PutDeliveryChannel":
            rp = {"deliveryChannel": {"name": "default", "s3BucketName": "config-bucket-" + a,
                                      "configSnapshotDeliveryProperties": {"deliveryFrequency": "TwentyFour_Hours"}}}
        elif name == "DeleteDeliveryChannel":
            rp = {"deliveryChannelName": "default"}
        else:
            rp = {"configurationRecorderName": "default"}
        return ("config.amazonaws.com", name, rp, None, False, None)

    def _ip_perms(self):
        r = self.r
        n = self.ch((1, 1, 1, 2, 3))
        items = []
        for i in range(n):
            port = self.ch((22, 80, 443, 3306, 5432, 6379, 8080, 8443))
            items.append({"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {},
                          "ipRanges": {"items": [{"cidrIp": self.ch(("0.0.0.0/0", "10.0.0.0/8", "203.0.113.0/24", "198.51.100.%d/32" % self.rr(1, 255))),
                                                  "description": self.ch(("office", "vpn", "load balancer", "temporary debug"))}]},
                          "ipv6Ranges": {}, "prefixListIds": {}})
        return {"items": items}

    def c_security_group(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupIngress",
                         "RevokeSecurityGroupEgress", "CreateSecurityGroup", "CreateSecurityGroup", "DeleteSecurityGroup"))
        sg = self.ch(self.sgs[a])
        rid = self.uuid()
        if name == "CreateSecurityGroup":
            rp = {"groupName": "%s-%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS), self.hexs(6)), "groupDescription": "Managed by Terraform",
                  "vpcId": self.ch(self.vpcs[a])}
            resp = {"requestId": rid, "_return": True, "groupId": "sg-0" + self.hexs(16)}
        elif name == "DeleteSecurityGroup":
            rp = {"groupId": sg}
            resp = {"requestId": rid, "_return": True, "groupId": sg}
        else:
            perms = self._ip_perms()
            rp = {"groupId": sg, "ipPermissions": perms}
            resp = {"requestId": rid, "_return": True}
            if name.startswith("Authorize"):
                resp["securityGroupRuleSet"] = {"items": [{"groupOwnerId": a, "groupId": sg, "securityGroupRuleId": "sgr-0" + self.hexs(16),
                                                           "isEgress": name.endswith("Egress"), "ipProtocol": p["ipProtocol"],
                                                           "fromPort": p["fromPort"], "toPort": p["toPort"],
                                                           "cidrIpv4": p["ipRanges"]["items"][0]["cidrIp"]} for p in perms["items"]]}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def c_nacl(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateNetworkAcl", "CreateNetworkAclEntry", "CreateNetworkAclEntry", "DeleteNetworkAcl", "DeleteNetworkAclEntry",
                         "ReplaceNetworkAclEntry", "ReplaceNetworkAclAssociation"))
        acl = "acl-0" + self.hexs(16)
        rid = self.uuid()
        resp = {"requestId": rid, "_return": True}
        if name == "CreateNetworkAcl":
            rp = {"vpcId": self.ch(self.vpcs[a])}
            resp = {"requestId": rid, "networkAcl": {"networkAclId": acl, "vpcId": rp["vpcId"], "default": False,
                                                     "entrySet": {"items": [{"ruleNumber": 32767, "protocol": "-1", "ruleAction": "deny", "egress": e, "cidrBlock": "0.0.0.0/0"} for e in (True, False)]},
                                                     "associationSet": {}, "tagSet": {}, "ownerId": a}}
        elif name in ("CreateNetworkAclEntry", "ReplaceNetworkAclEntry"):
            port = self.ch((22, 443, 1024, 3389))
            rp = {"networkAclId": acl, "ruleNumber": self.rr(1, 32000), "egress": r.random() < 0.3, "ruleAction": self.ch(("allow", "deny")),
                  "icmpTypeCode": {}, "portRange": {"from": port, "to": port if port != 1024 else 65535}, "aclProtocol": "6",
                  "cidrBlock": self.ch(("0.0.0.0/0", "10.0.0.0/16"))}
        elif name == "DeleteNetworkAclEntry":
            rp = {"networkAclId": acl, "ruleNumber": self.rr(1, 32000), "egress": False}
        elif name == "ReplaceNetworkAclAssociation":
            rp = {"associationId": "aclassoc-0" + self.hexs(16), "networkAclId": acl}
            resp = {"requestId": rid, "newAssociationId": "aclassoc-0" + self.hexs(16)}
        else:
            rp = {"networkAclId": acl}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def c_gateway(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateCustomerGateway", "DeleteCustomerGateway", "AttachInternetGateway", "CreateInternetGateway",
                         "DeleteInternetGateway", "DetachInternetGateway"))
        igw = "igw-0" + self.hexs(16)
        rid = self.uuid()
        resp = {"requestId": rid, "_return": True}
        if name == "CreateInternetGateway":
            rp = {}
            resp = {"requestId": rid, "internetGateway": {"internetGatewayId": igw, "ownerId": a, "attachmentSet": {}, "tagSet": {}}}
        elif name in ("AttachInternetGateway", "DetachInternetGateway"):
            rp = {"internetGatewayId": igw, "vpcId": self.ch(self.vpcs[a])}
        elif name == "DeleteInternetGateway":
            rp = {"internetGatewayId": igw}
        elif name == "CreateCustomerGateway":
            cgw = "cgw-0" + self.hexs(16)
            rp = {"type": "ipsec.1", "ipAddress": "203.0.113.%d" % self.rr(1, 255), "bgpAsn": 65000 + self.rr(100)}
            resp = {"requestId": rid, "customerGateway": {"customerGatewayId": cgw, "state": "available", "type": "ipsec.1",
                                                          "ipAddress": rp["ipAddress"], "bgpAsn": str(rp["bgpAsn"]), "tagSet": {}}}
        else:
            rp = {"customerGatewayId": "cgw-0" + self.hexs(16)}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def c_route(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateRoute", "CreateRoute", "CreateRouteTable", "ReplaceRoute", "ReplaceRouteTableAssociation", "DeleteRouteTable",
                         "DeleteRoute", "DisassociateRouteTable"))
        rtb = "rtb-0" + self.hexs(16)
        rid = self.uuid()
        resp = {"requestId": rid, "_return": True}
        if name in ("CreateRoute", "ReplaceRoute"):
            rp = {"routeTableId": rtb, "destinationCidrBlock": self.ch(("0.0.0.0/0", "10.20.0.0/16", "172.16.0.0/12")),
                  self.ch(("gatewayId", "natGatewayId", "transitGatewayId", "vpcPeeringConnectionId")): "%s-0%s" % (self.ch(("igw", "nat", "tgw", "pcx")), self.hexs(16))}
        elif name == "CreateRouteTable":
            rp = {"vpcId": self.ch(self.vpcs[a])}
            resp = {"requestId": rid, "routeTable": {"routeTableId": rtb, "vpcId": rp["vpcId"], "ownerId": a,
                                                     "routeSet": {"items": [{"destinationCidrBlock": "10.0.0.0/16", "gatewayId": "local", "state": "active", "origin": "CreateRouteTable"}]},
                                                     "associationSet": {}, "propagatingVgwSet": {}, "tagSet": {}}}
        elif name == "ReplaceRouteTableAssociation":
            rp = {"associationId": "rtbassoc-0" + self.hexs(16), "routeTableId": rtb}
            resp = {"requestId": rid, "newAssociationId": "rtbassoc-0" + self.hexs(16), "associationState": {"state": "associated"}}
        elif name == "DeleteRoute":
            rp = {"routeTableId": rtb, "destinationCidrBlock": "10.20.0.0/16"}
        elif name == "DisassociateRouteTable":
            rp = {"associationId": "rtbassoc-0" + self.hexs(16)}
        else:
            rp = {"routeTableId": rtb}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def c_vpc(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateVpc", "DeleteVpc", "ModifyVpcAttribute", "ModifyVpcAttribute", "AcceptVpcPeeringConnection", "CreateVpcPeeringConnection",
                         "DeleteVpcPeeringConnection", "RejectVpcPeeringConnection", "AttachClassicLinkVpc", "DetachClassicLinkVpc",
                         "DisableVpcClassicLink", "EnableVpcClassicLink"))
        vpc = self.ch(self.vpcs[a])
        rid = self.uuid()
        resp = {"requestId": rid, "_return": True}
        pcx = "pcx-0" + self.hexs(16)
        if name == "CreateVpc":
            rp = {"cidrBlock": "10.%d.0.0/16" % self.rr(256), "amazonProvidedIpv6CidrBlock": False, "instanceTenancy": "default"}
            resp = {"requestId": rid, "vpc": {"vpcId": "vpc-0" + self.hexs(16), "state": "pending", "ownerId": a, "cidrBlock": rp["cidrBlock"],
                                              "cidrBlockAssociationSet": {"items": [{"cidrBlock": rp["cidrBlock"], "associationId": "vpc-cidr-assoc-0" + self.hexs(16),
                                                                                     "cidrBlockState": {"state": "associated"}}]},
                                              "ipv6CidrBlockAssociationSet": {}, "dhcpOptionsId": "dopt-0" + self.hexs(16),
                                              "instanceTenancy": "default", "tagSet": {}, "isDefault": False}}
        elif name == "ModifyVpcAttribute":
            rp = {"vpcId": vpc, self.ch(("enableDnsHostnames", "enableDnsSupport")): {"value": True}}
        elif name == "CreateVpcPeeringConnection":
            rp = {"vpcId": vpc, "peerVpcId": "vpc-0" + self.hexs(16), "peerOwnerId": self.ch(OTHER_ACCOUNTS)}
            resp = {"requestId": rid, "vpcPeeringConnection": {"vpcPeeringConnectionId": pcx, "status": {"code": "initiating-request"}}}
        elif "Peering" in name:
            rp = {"vpcPeeringConnectionId": pcx}
        elif name in ("AttachClassicLinkVpc", "DetachClassicLinkVpc"):
            rp = {"instanceId": self.ch(self.instances[a]), "vpcId": vpc}
            if name == "AttachClassicLinkVpc":
                rp["groupSet"] = {"items": [{"groupId": self.ch(self.sgs[a])}]}
        else:
            rp = {"vpcId": vpc}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def c_kms(self, c):
        r = self.r
        a = c["acct"]
        key = self.ch(self.kms_keys[a])
        karn = "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, key)
        if r.random() < 0.5:
            rp = {"keyId": key}
            resp = None
            name = "DisableKey"
        else:
            days = self.ch((7, 30))
            rp = {"keyId": key, "pendingWindowInDays": days}
            resp = {"keyId": karn, "deletionDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t + days * 86400)),
                    "keyState": "PendingDeletion", "pendingWindowInDays": days}
            name = "ScheduleKeyDeletion"
        return ("kms.amazonaws.com", name, rp, resp, False, {"resources": [{"accountId": a, "type": "AWS::KMS::Key", "ARN": karn}], "_human": True})

    def c_org(self, c):
        r = self.r
        name = self.ch(("AcceptHandshake", "AttachPolicy", "AttachPolicy", "CreateAccount", "CreateOrganizationalUnit", "CreatePolicy", "DeclineHandshake",
                         "DeleteOrganization", "DeleteOrganizationalUnit", "DeletePolicy", "DetachPolicy", "DisablePolicyType", "EnablePolicyType",
                         "InviteAccountToOrganization", "LeaveOrganization", "MoveAccount", "RemoveAccountFromOrganization", "UpdatePolicy",
                         "UpdateOrganizationalUnit"))
        pid = "p-" + self.alnum(8, "abcdefghijklmnopqrstuvwxyz0123456789")
        ou = "ou-%s-%s" % (self.alnum(4, "abcdefghijklmnopqrstuvwxyz0123456789"), self.alnum(8, "abcdefghijklmnopqrstuvwxyz0123456789"))
        resp = None
        if name in ("CreatePolicy", "UpdatePolicy"):
            scp = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "DenyLeaveOrg", "Effect": "Deny", "Action": ["organizations:LeaveOrganization",
                                                                                                                      "cloudtrail:StopLogging", "cloudtrail:DeleteTrail"], "Resource": "*"}]})
            rp = {"content": scp, "description": "Baseline guardrails", "name": "baseline-guardrails", "type": "SERVICE_CONTROL_POLICY"}
            if name == "UpdatePolicy":
                rp["policyId"] = pid
        elif name in ("AttachPolicy", "DetachPolicy"):
            rp = {"policyId": pid, "targetId": self.ch((ou, self.ch(OTHER_ACCOUNTS)))}
        elif name == "CreateAccount":
            rp = {"accountName": "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS)), "email": "HIDDEN_DUE_TO_SECURITY_REASONS", "iamUserAccessToBilling": "DENY"}
            resp = {"createAccountStatus": {"id": "car-" + self.hexs(32), "accountName": rp["accountName"], "state": "IN_PROGRESS",
                                            "requestedTimestamp": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t))}}
        elif name in ("MoveAccount",):
            rp = {"accountId": self.ch(OTHER_ACCOUNTS), "sourceParentId": "r-" + self.alnum(4, "abcdefghijklmnopqrstuvwxyz0123456789"), "destinationParentId": ou}
        elif name in ("CreateOrganizationalUnit", "UpdateOrganizationalUnit", "DeleteOrganizationalUnit"):
            rp = {"parentId": "r-" + self.alnum(4, "abcdefghijklmnopqrstuvwxyz0123456789"), "name": self.ch(("Workloads", "Sandbox", "Security", "Suspended"))} if name == "CreateOrganizationalUnit" else {"organizationalUnitId": ou}
        elif name in ("EnablePolicyType", "DisablePolicyType"):
            rp = {"rootId": "r-" + self.alnum(4, "abcdefghijklmnopqrstuvwxyz0123456789"), "policyType": self.ch(("SERVICE_CONTROL_POLICY", "TAG_POLICY", "BACKUP_POLICY"))}
        elif name in ("AcceptHandshake", "DeclineHandshake"):
            rp = {"handshakeId": "h-" + self.alnum(10, "abcdefghijklmnopqrstuvwxyz0123456789")}
        elif name == "InviteAccountToOrganization":
            rp = {"target": {"type": "ACCOUNT", "id": "HIDDEN_DUE_TO_SECURITY_REASONS"}, "notes": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        elif name == "RemoveAccountFromOrganization":
            rp = {"accountId": self.ch(OTHER_ACCOUNTS)}
        elif name == "DeletePolicy":
            rp = {"policyId": pid}
        else:
            rp = None
        return ("organizations.amazonaws.com", name, rp, resp, False, {"_region": "us-east-1", "_host": "organizations.us-east-1.amazonaws.com", "_human": True})

    # -- misc (non-CIS writes, near misses, decoys, service events)
    def m_ec2_write(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateTags", "CreateTags", "StopInstances", "StartInstances", "TerminateInstances", "CreateSnapshot", "ModifyInstanceAttribute",
                         "CreateNetworkInterface", "DeleteNetworkInterface", "AssociateAddress", "CreateLaunchTemplateVersion"))
        rid = self.uuid()
        insts = r.sample(self.instances[a], self.ch((1, 1, 2, 4)))
        resp = {"requestId": rid, "_return": True}
        if name == "CreateTags":
            rp = {"resourcesSet": {"items": [{"resourceId": i} for i in insts]},
                  "tagSet": {"items": [{"key": k, "value": v} for k, v in (("Name", "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))), ("team", self.ch(APP_NAMES)), ("cost-center", str(self.rr(1000, 9999))))[:self.ch((1, 2, 3))]]}}
        elif name in ("StopInstances", "StartInstances", "TerminateInstances"):
            rp = {"instancesSet": {"items": [{"instanceId": i} for i in insts]}}
            if name == "StopInstances":
                rp["force"] = False
            cur, prev = {"StopInstances": ((64, "stopping"), (16, "running")), "StartInstances": ((0, "pending"), (80, "stopped")),
                         "TerminateInstances": ((32, "shutting-down"), (16, "running"))}[name]
            resp = {"requestId": rid, "instancesSet": {"items": [{"instanceId": i, "currentState": {"code": cur[0], "name": cur[1]},
                                                                  "previousState": {"code": prev[0], "name": prev[1]}} for i in insts]}}
        elif name == "CreateSnapshot":
            rp = {"volumeId": "vol-0" + self.hexs(16), "description": "Created by AWS Backup"}
            resp = {"requestId": rid, "snapshotId": "snap-0" + self.hexs(16), "volumeId": rp["volumeId"], "status": "pending",
                    "startTime": int(self.t * 1000), "progress": "", "ownerId": a, "volumeSize": self.ch((8, 20, 100, 500)), "encrypted": True}
        elif name == "ModifyInstanceAttribute":
            rp = {"instanceId": insts[0], "groupSet": {"items": [{"groupId": g} for g in r.sample(self.sgs[a], 2)]}}
        elif name == "CreateNetworkInterface":
            rp = {"subnetId": self.ch(self.subnets[a]), "description": "AWS Lambda VPC ENI-%s-%s" % (self.ch(self.functions[a]), self.uuid()),
                  "groupSet": {"items": [{"groupId": self.ch(self.sgs[a])}]}, "privateIpAddressesSet": {}, "ipv6AddressCount": 0}
            resp = {"requestId": rid, "networkInterface": {"networkInterfaceId": "eni-0" + self.hexs(16), "subnetId": rp["subnetId"],
                                                           "vpcId": self.ch(self.vpcs[a]), "availabilityZone": c["region"] + "a", "description": rp["description"],
                                                           "ownerId": a, "requesterId": self.principal_id("AROA") + ":" + self.hexs(32),
                                                           "requesterManaged": False, "status": "pending", "macAddress": "0e:%02x:%02x:%02x:%02x:%02x" % tuple(self.rr(256) for _ in range(5)),
                                                           "privateIpAddress": "10.0.%d.%d" % (self.rr(256), self.rr(1, 255)), "sourceDestCheck": True,
                                                           "interfaceType": "lambda", "groupSet": rp["groupSet"], "attachableToInstance": False}}
            if r.random() < 0.6:
                c["identity"] = self.service_identity("lambda.amazonaws.com")
                c["ip"] = c["ua"] = "lambda.amazonaws.com"
        elif name == "CreateLaunchTemplateVersion":
            rp = {"CreateLaunchTemplateVersionRequest": {"LaunchTemplateId": "lt-0" + self.hexs(16), "SourceVersion": "1",
                                                         "LaunchTemplateData": {"ImageId": "ami-0" + self.hexs(16), "UserData": "<sensitiveDataRemoved>"}}}
            resp = {"CreateLaunchTemplateVersionResponse": {"requestId": rid, "launchTemplateVersion": {"versionNumber": self.rr(2, 40)}}}
        else:
            rp = {"networkInterfaceId": "eni-0" + self.hexs(16)} if name == "DeleteNetworkInterface" else {"allocationId": "eipalloc-0" + self.hexs(16), "instanceId": insts[0]}
        return ("ec2.amazonaws.com", name, rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def m_run_instances(self, c):
        r = self.r
        a = c["acct"]
        n = self.ch((1, 1, 1, 1, 2, 2, 3))
        rid = self.uuid()
        ami = "ami-0" + self.hexs(16)
        itype = self.ch(("t3.micro", "t3.medium", "m6i.large", "c7g.xlarge", "r6i.2xlarge"))
        subnet = self.ch(self.subnets[a])
        sg = self.ch(self.sgs[a])
        rp = {"instancesSet": {"items": [{"imageId": ami, "minCount": n, "maxCount": n}]}, "userData": "<sensitiveDataRemoved>",
              "instanceType": itype, "blockDeviceMapping": {}, "monitoring": {"enabled": False}, "disableApiTermination": False,
              "disableApiStop": False, "clientToken": self.uuid(), "subnetId": subnet,
              "iamInstanceProfile": {"arn": "arn:aws:iam::%s:instance-profile/%s" % (a, self.ch(self.roles[a]))},
              "launchTemplate": {"launchTemplateId": "lt-0" + self.hexs(16), "version": "$Latest"},
              "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Name", "value": "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))}]}]}}
        items = []
        for i in range(n):
            iid = "i-0" + self.hexs(16)
            ip = "10.0.%d.%d" % (self.rr(256), self.rr(1, 255))
            eni = "eni-0" + self.hexs(16)
            items.append({"instanceId": iid, "imageId": ami, "currentInstanceBootMode": "uefi", "instanceState": {"code": 0, "name": "pending"},
                          "privateDnsName": "ip-%s.%s.compute.internal" % (ip.replace(".", "-"), c["region"]), "amiLaunchIndex": i,
                          "productCodes": {}, "instanceType": itype, "launchTime": int(self.t * 1000),
                          "placement": {"availabilityZone": c["region"] + "a", "tenancy": "default"}, "monitoring": {"state": "disabled"},
                          "subnetId": subnet, "vpcId": self.ch(self.vpcs[a]), "privateIpAddress": ip, "stateReason": {"code": "pending", "message": "pending"},
                          "architecture": "x86_64", "rootDeviceType": "ebs", "rootDeviceName": "/dev/xvda", "blockDeviceMapping": {},
                          "virtualizationType": "hvm", "hypervisor": "xen", "tagSet": {"items": [{"key": "Name", "value": rp["tagSpecificationSet"]["items"][0]["tags"][0]["value"]}]},
                          "clientToken": rp["clientToken"], "groupSet": {"items": [{"groupId": sg, "groupName": "default"}]}, "sourceDestCheck": True,
                          "networkInterfaceSet": {"items": [{"networkInterfaceId": eni, "subnetId": subnet, "vpcId": self.ch(self.vpcs[a]), "ownerId": a,
                                                             "status": "in-use", "macAddress": "0a:%02x:%02x:%02x:%02x:%02x" % tuple(self.rr(256) for _ in range(5)),
                                                             "privateIpAddress": ip, "sourceDestCheck": True, "interfaceType": "interface",
                                                             "groupSet": {"items": [{"groupId": sg, "groupName": "default"}]},
                                                             "attachment": {"attachmentId": "eni-attach-0" + self.hexs(16), "deviceIndex": 0, "networkCardIndex": 0,
                                                                            "status": "attaching", "attachTime": int(self.t * 1000), "deleteOnTermination": True},
                                                             "privateIpAddressesSet": {"item": [{"privateIpAddress": ip, "primary": True}]}, "ipv6AddressesSet": {}, "tagSet": {}}]},
                          "ebsOptimized": False, "enaSupport": True, "cpuOptions": {"coreCount": 1, "threadsPerCore": 2},
                          "capacityReservationSpecification": {"capacityReservationPreference": "open"}, "enclaveOptions": {"enabled": False},
                          "metadataOptions": {"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled",
                                              "httpProtocolIpv4": "enabled", "httpProtocolIpv6": "disabled", "instanceMetadataTags": "disabled"},
                          "maintenanceOptions": {"autoRecovery": "default"}, "privateDnsNameOptions": {"hostnameType": "ip-name", "enableResourceNameDnsARecord": False, "enableResourceNameDnsAAAARecord": False}})
        resp = {"requestId": rid, "reservationId": "r-0" + self.hexs(16), "ownerId": a, "groupSet": {}, "instancesSet": {"items": items}}
        if r.random() < 0.5:
            c["identity"] = self._assumed(a, "AWSServiceRoleForAutoScaling", "AutoScaling", path="aws-service-role/autoscaling.amazonaws.com/",
                                          created=self.ts(self.t - 30)) if r.random() < 0.5 else c["identity"]
            c["ip"] = c["ua"] = "autoscaling.amazonaws.com"
        return ("ec2.amazonaws.com", "RunInstances", rp, resp, False, {"_reqid": rid, "_ua_svc": "ec2"})

    def m_iam_write(self, c):
        r = self.r
        a = c["acct"]
        name = self.ch(("CreateRole", "UpdateAssumeRolePolicy", "CreateUser", "CreateAccessKey", "TagRole", "CreateServiceLinkedRole",
                         "UpdateAccessKey", "DeleteAccessKey", "AddUserToGroup", "PassRole_near_miss"))
        role = self.ch(self.roles[a])
        user = "%s.%s" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES))
        resp = None
        if name == "CreateRole":
            doc = self.trust_doc(a)
            rp = {"roleName": role + "-" + self.hexs(4), "assumeRolePolicyDocument": doc, "maxSessionDuration": 3600,
                  "tags": [{"key": "team", "value": self.ch(APP_NAMES)}]}
            resp = {"role": {"path": "/", "roleName": rp["roleName"], "roleId": self.principal_id("AROA"), "arn": "arn:aws:iam::%s:role/%s" % (a, rp["roleName"]),
                             "createDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t)), "assumeRolePolicyDocument": doc.replace("\n", ""),
                             "maxSessionDuration": 3600, "tags": rp["tags"]}}
        elif name == "UpdateAssumeRolePolicy":
            rp = {"roleName": role, "policyDocument": self.trust_doc(a)}
        elif name == "CreateUser":
            rp = {"userName": user, "tags": []}
            resp = {"user": {"path": "/", "userName": user, "userId": self.principal_id("AIDA"), "arn": "arn:aws:iam::%s:user/%s" % (a, user),
                             "createDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t))}}
        elif name == "CreateAccessKey":
            rp = {"userName": user}
            resp = {"accessKey": {"userName": user, "accessKeyId": "AKIA" + self.alnum(16), "status": "Active",
                                  "createDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t))}}
        elif name == "TagRole":
            rp = {"roleName": role, "tags": [{"key": "owner", "value": user}, {"key": "cost-center", "value": str(self.rr(1000, 9999))}]}
        elif name == "CreateServiceLinkedRole":
            svc = self.ch(("autoscaling.amazonaws.com", "ecs.amazonaws.com", "elasticloadbalancing.amazonaws.com", "rds.amazonaws.com"))
            rp = {"aWSServiceName": svc}
            c["identity"] = self.service_identity(svc) if r.random() < 0.3 else c["identity"]
        elif name == "PassRole_near_miss":
            # names that share a prefix with CIS names but are not in any list
            name = self.ch(("PutRolePermissionsBoundary", "AttachRolePolicyVersion", "ListPolicies", "PutUserPermissionsBoundary", "CreatePolicies"))
            rp = {"roleName": role}
            if name in ("ListPolicies", "AttachRolePolicyVersion", "CreatePolicies"):
                rp = {"scope": "Local", "onlyAttached": True}
            else:
                rp["permissionsBoundary"] = "arn:aws:iam::%s:policy/boundary" % a
        else:
            rp = {"userName": user, "accessKeyId": "AKIA" + self.alnum(16), "status": "Inactive"} if name == "UpdateAccessKey" else (
                {"userName": user, "accessKeyId": "AKIA" + self.alnum(16)} if name == "DeleteAccessKey" else {"groupName": "developers", "userName": user})
        return ("iam.amazonaws.com", name, rp, resp, name == "ListPolicies", {"_region": "us-east-1", "_host": "iam.amazonaws.com", "_human": True})

    def m_s3_write(self, c):
        r = self.r
        a = c["acct"]
        b = self.ch(self.buckets[a])
        name = self.ch(("CreateBucket", "PutBucketVersioning", "PutBucketPublicAccessBlock", "PutBucketTagging", "PutBucketEncryption",
                         "PutBucketLogging", "PutBucketNotification", "PutBucketOwnershipControls", "DeleteBucketEncryption", "PutBucketPolicyStatus"))
        host = "%s.s3.%s.amazonaws.com" % (b, c["region"])
        rp = {"bucketName": b, "Host": host}
        if name == "PutBucketVersioning":
            rp.update({"versioning": "", "VersioningConfiguration": {"Status": "Enabled", "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}})
        elif name == "PutBucketPublicAccessBlock":
            rp.update({"publicAccessBlock": "", "PublicAccessBlockConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "RestrictPublicBuckets": True,
                                                                                    "BlockPublicPolicy": True, "BlockPublicAcls": True, "IgnorePublicAcls": True}})
        elif name == "PutBucketEncryption":
            rp.update({"encryption": "", "ServerSideEncryptionConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                                                                "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, self.ch(self.kms_keys[a]))},
                                                                                         "BucketKeyEnabled": True}}})
        elif name == "PutBucketTagging":
            rp.update({"tagging": "", "Tagging": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "TagSet": {"Tag": [{"Key": "team", "Value": self.ch(APP_NAMES)}]}}})
        elif name == "CreateBucket":
            rp.update({"CreateBucketConfiguration": {"LocationConstraint": c["region"], "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/"}, "x-amz-object-ownership": "BucketOwnerEnforced"})
        elif name == "PutBucketLogging":
            rp.update({"logging": "", "BucketLoggingStatus": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/", "LoggingEnabled": {"TargetBucket": self.ch(self.buckets[a]), "TargetPrefix": b + "/"}}})
        else:
            rp[name[9:].lower() or "x"] = ""
        ex = self.s3_extra(c, b, 0, self.rr(100, 900))
        ex["resources"] = [{"accountId": a, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + b}]
        return ("s3.amazonaws.com", name, rp, None, False, ex)

    def m_lambda_write(self, c):
        r = self.r
        a = c["acct"]
        fn = self.ch(self.functions[a])
        farn = "arn:aws:lambda:%s:%s:function:%s" % (c["region"], a, fn)
        name = self.ch(("UpdateFunctionCode20150331v2", "UpdateFunctionConfiguration20150331v2", "CreateFunction20150331", "AddPermission20150331v2", "PublishVersion20150331"))
        cfg = {"functionName": fn, "functionArn": farn, "runtime": self.ch(("python3.12", "nodejs20.x", "java21", "provided.al2023")),
               "role": "arn:aws:iam::%s:role/%s-exec" % (a, fn), "handler": "app.handler", "codeSize": self.rr(10 ** 4, 5 * 10 ** 7),
               "description": "", "timeout": self.ch((3, 30, 900)), "memorySize": self.ch((128, 512, 1024, 3008)),
               "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(self.t)), "codeSha256": self.b64(43),
               "version": "$LATEST", "environment": {}, "tracingConfig": {"mode": "PassThrough"}, "revisionId": self.uuid(),
               "state": "Active", "lastUpdateStatus": "InProgress", "lastUpdateStatusReason": "The function is being created.",
               "lastUpdateStatusReasonCode": "Creating", "packageType": "Zip", "architectures": ["x86_64"],
               "ephemeralStorage": {"size": 512}, "snapStart": {"applyOn": "None", "optimizationStatus": "Off"},
               "runtimeVersionConfig": {"runtimeVersionArn": "arn:aws:lambda:%s::runtime:%s" % (c["region"], self.hexs(64))},
               "loggingConfig": {"logFormat": "Text", "logGroup": "/aws/lambda/" + fn}}
        if name == "UpdateFunctionCode20150331v2":
            rp = {"functionName": fn, "s3Bucket": self.ch(self.buckets[a]), "s3Key": "lambda/%s/%s.zip" % (fn, self.hexs(12)), "publish": False, "dryRun": False}
            resp = cfg
        elif name == "UpdateFunctionConfiguration20150331v2":
            rp = {"functionName": fn, "environment": {}, "timeout": cfg["timeout"], "memorySize": cfg["memorySize"]}
            resp = cfg
        elif name == "CreateFunction20150331":
            rp = {"functionName": fn, "runtime": cfg["runtime"], "role": cfg["role"], "handler": "app.handler",
                  "code": {"s3Bucket": self.ch(self.buckets[a]), "s3Key": "lambda/%s.zip" % fn}, "timeout": cfg["timeout"], "memorySize": cfg["memorySize"],
                  "publish": False, "vpcConfig": {"subnetIds": r.sample(self.subnets[a], 2), "securityGroupIds": [self.ch(self.sgs[a])]},
                  "environment": {}, "tags": {"team": self.ch(APP_NAMES)}, "architectures": ["x86_64"]}
            resp = cfg
        elif name == "AddPermission20150331v2":
            src = "arn:aws:s3:::" + self.ch(self.buckets[a])
            rp = {"functionName": fn, "statementId": "s3invoke-" + self.hexs(8), "action": "lambda:InvokeFunction", "principal": "s3.amazonaws.com", "sourceArn": src}
            resp = {"statement": json.dumps({"Sid": rp["statementId"], "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
                                             "Resource": farn, "Condition": {"ArnLike": {"AWS:SourceArn": src}}}, separators=(",", ":"))}
        else:
            rp = {"functionName": fn}
            resp = dict(cfg, version=str(self.rr(1, 200)))
        return ("lambda.amazonaws.com", name, rp, resp, False, {"_human": r.random() < 0.5})

    def m_ecs(self, c):
        r = self.r
        a = c["acct"]
        fam = "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))
        name = self.ch(("RegisterTaskDefinition", "RunTask", "UpdateService"))
        if name == "RegisterTaskDefinition":
            conts = []
            for i in range(self.ch((1, 2, 3))):
                conts.append({"name": fam + ("-sidecar%d" % i if i else ""), "image": "%s.dkr.ecr.%s.amazonaws.com/%s:%s" % (a, c["region"], fam, self.hexs(7)),
                              "cpu": 256, "memory": 512, "essential": i == 0, "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                              "environment": [{"name": k, "value": v} for k, v in (("LOG_LEVEL", "info"), ("REGION", c["region"]), ("FEATURE_X", "true"))],
                              "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:%s:%s:secret:%s/db-%s" % (c["region"], a, fam, self.alnum(6, ALNUM))}],
                              "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/" + fam, "awslogs-region": c["region"], "awslogs-stream-prefix": "ecs"}}})
            rp = {"family": fam, "taskRoleArn": "arn:aws:iam::%s:role/%s-task-role" % (a, fam), "executionRoleArn": "arn:aws:iam::%s:role/ecsTaskExecutionRole" % a,
                  "networkMode": "awsvpc", "containerDefinitions": conts, "requiresCompatibilities": ["FARGATE"], "cpu": "512", "memory": "1024"}
            resp = {"taskDefinition": dict(rp, taskDefinitionArn="arn:aws:ecs:%s:%s:task-definition/%s:%d" % (c["region"], a, fam, self.rr(1, 300)),
                                           revision=self.rr(1, 300), status="ACTIVE", registeredAt=time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t)))}
        elif name == "RunTask":
            rp = {"cluster": "%s-cluster" % self.ch(ENVS), "taskDefinition": fam, "count": 1, "launchType": "FARGATE",
                  "networkConfiguration": {"awsvpcConfiguration": {"subnets": r.sample(self.subnets[a], 2), "securityGroups": [self.ch(self.sgs[a])], "assignPublicIp": "DISABLED"}}}
            resp = {"tasks": [{"taskArn": "arn:aws:ecs:%s:%s:task/%s-cluster/%s" % (c["region"], a, self.ch(ENVS), self.hexs(32)), "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING"}], "failures": []}
        else:
            rp = {"cluster": "%s-cluster" % self.ch(ENVS), "service": fam, "desiredCount": self.rr(1, 12), "forceNewDeployment": r.random() < 0.3}
            resp = None
        return ("ecs.amazonaws.com", name, rp, resp, False, None)

    def m_cfn(self, c):
        r = self.r
        a = c["acct"]
        stack = "%s-%s" % (self.ch(APP_NAMES), self.ch(ENVS))
        name = self.ch(("CreateStack", "UpdateStack", "CreateChangeSet", "ExecuteChangeSet"))
        rp = {"stackName": stack, "templateURL": "https://%s.s3.amazonaws.com/templates/%s.yaml" % (self.ch(self.buckets[a]), stack),
              "parameters": [{"parameterKey": k, "parameterValue": v} for k, v in (("Environment", self.ch(ENVS)), ("InstanceType", "t3.small"), ("VpcId", self.ch(self.vpcs[a])))],
              "capabilities": ["CAPABILITY_NAMED_IAM"], "tags": [{"key": "team", "value": self.ch(APP_NAMES)}]}
        resp = {"stackId": "arn:aws:cloudformation:%s:%s:stack/%s/%s" % (c["region"], a, stack, self.uuid())}
        return ("cloudformation.amazonaws.com", name, rp, resp, False, None)

    def m_policy_writes(self, c):
        """Writes that embed a policy document as a string (escaped quotes) but match no CIS filter."""
        r = self.r
        a = c["acct"]
        which = self.ch(("sqs", "sns", "kms_put", "kms_create", "logs_rp", "ecr", "secrets"))
        doc = self.policy_doc(a, self.ch((1, 2, 3)), pretty=r.random() < 0.3)
        if which == "sqs":
            q = "https://sqs.%s.amazonaws.com/%s/%s-queue" % (c["region"], a, self.ch(APP_NAMES))
            return ("sqs.amazonaws.com", "SetQueueAttributes", {"queueUrl": q, "attributes": {"Policy": doc}}, None, False, None)
        if which == "sns":
            t = "arn:aws:sns:%s:%s:%s-alerts" % (c["region"], a, self.ch(APP_NAMES))
            return ("sns.amazonaws.com", "SetTopicAttributes", {"topicArn": t, "attributeName": "Policy", "attributeValue": doc}, None, False, None)
        if which == "kms_put":
            return ("kms.amazonaws.com", "PutKeyPolicy", {"keyId": self.ch(self.kms_keys[a]), "policyName": "default", "policy": doc, "bypassPolicyLockoutSafetyCheck": False}, None, False, None)
        if which == "kms_create":
            kid = self.uuid()
            return ("kms.amazonaws.com", "CreateKey", {"policy": doc, "description": "%s data key" % self.ch(APP_NAMES), "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT",
                                                       "origin": "AWS_KMS", "bypassPolicyLockoutSafetyCheck": False, "tags": [{"tagKey": "team", "tagValue": self.ch(APP_NAMES)}], "multiRegion": False},
                    {"keyMetadata": {"aWSAccountId": a, "keyId": kid, "arn": "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, kid),
                                     "creationDate": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t)), "enabled": True, "keyUsage": "ENCRYPT_DECRYPT",
                                     "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
                                     "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"], "multiRegion": False}}, False, None)
        if which == "logs_rp":
            return ("logs.amazonaws.com", "PutResourcePolicy", {"policyName": "route53-query-logging", "policyDocument": doc}, None, False, None)
        if which == "ecr":
            return ("ecr.amazonaws.com", "SetRepositoryPolicy", {"repositoryName": "%s/api" % self.ch(APP_NAMES), "policyText": doc, "force": False}, None, False, None)
        return ("secretsmanager.amazonaws.com", "PutResourcePolicy", {"secretId": "%s/%s" % (self.ch(ENVS), self.ch(APP_NAMES)), "resourcePolicy": doc, "blockPublicPolicy": True}, None, False, None)

    def m_logs_query(self, c):
        """Security tooling querying for CIS-relevant events: the tested words appear inside strings."""
        r = self.r
        a = c["acct"]
        ev = self.ch(("StopLogging", "DeleteTrail", "PutBucketPolicy", "ConsoleLogin", "AuthorizeSecurityGroupIngress", "ScheduleKeyDeletion"))
        which = r.random()
        if which < 0.4:
            return ("logs.amazonaws.com", "FilterLogEvents",
                    {"logGroupName": "CloudTrail/DefaultLogGroup", "filterPattern": self.ch(('{ $.eventName = "%s" }' % ev, '{ ($.errorCode = "AccessDenied*") || ($.userIdentity.type = "Root") }',
                                                                                               '{ $.errorMessage = "Failed authentication" }')),
                     "startTime": int(self.t - 86400) * 1000, "endTime": int(self.t) * 1000, "interleaved": True}, None, True, None)
        if which < 0.7:
            q = "fields @timestamp, eventName, userIdentity.arn | filter eventName = \"%s\" or errorCode like /AccessDenied/ | sort @timestamp desc | limit 200" % ev
            return ("logs.amazonaws.com", "StartQuery", {"logGroupNames": ["CloudTrail/DefaultLogGroup"], "startTime": int(self.t - 86400), "endTime": int(self.t),
                                                         "queryString": q, "limit": 200}, {"queryId": self.uuid()}, True, None)
        if which < 0.85:
            q = "SELECT eventtime, useridentity.arn, sourceipaddress FROM cloudtrail_logs WHERE eventname = '%s' AND useridentity.type = 'Root' LIMIT 100" % ev
            return ("athena.amazonaws.com", "StartQueryExecution", {"queryString": q, "clientRequestToken": self.uuid(), "queryExecutionContext": {"database": "security"},
                                                                    "workGroup": "primary"}, {"queryExecutionId": self.uuid()}, False, None)
        return ("logs.amazonaws.com", "PutMetricFilter", {"logGroupName": "CloudTrail/DefaultLogGroup", "filterName": "%s-count" % ev.lower(),
                                                          "filterPattern": '{ ($.eventName = %s) && ($.errorCode = "*UnauthorizedOperation") }' % ev,
                                                          "metricTransformations": [{"metricName": ev + "Count", "metricNamespace": "Security", "metricValue": "1"}]}, None, False, None)

    def m_lookup_events(self, c):
        r = self.r
        ev = self.ch(("StopLogging", "CreateTrail", "DeleteGroupPolicy", "ConsoleLogin", "CreateVpc", "DisableKey"))
        rp = {"lookupAttributes": [{"attributeKey": "EventName", "attributeValue": ev}], "maxResults": 50}
        if r.random() < 0.3:
            rp["startTime"] = time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t - 86400))
        return ("cloudtrail.amazonaws.com", "LookupEvents", rp, None, True, {"_human": True})

    def m_kms_misc(self, c):
        r = self.r
        a = c["acct"]
        key = self.ch(self.kms_keys[a])
        # near misses of DisableKey / ScheduleKeyDeletion
        name = self.ch(("DisableKeyRotation", "EnableKeyRotation", "EnableKey", "CancelKeyDeletion", "CreateAlias", "GetKeyRotationStatus"))
        rp = {"keyId": key} if name != "CreateAlias" else {"aliasName": "alias/%s-%s" % (self.ch(APP_NAMES), self.hexs(4)), "targetKeyId": key}
        return ("kms.amazonaws.com", name, rp, None, name == "GetKeyRotationStatus",
                {"resources": [{"accountId": a, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, key)}]})

    def m_web_identity(self, c):
        r = self.r
        a = c["acct"]
        role = self.ch(self.roles[a])
        arn = "arn:aws:iam::%s:role/%s" % (a, role)
        sess = "botocore-session-%d" % self.rr(1700000000, 1800000000)
        if r.random() < 0.6:
            sub = "system:serviceaccount:%s:%s" % (self.ch(APP_NAMES), self.ch(APP_NAMES))
            prov = "oidc.eks.%s.amazonaws.com/id/%s" % (c["region"], self.alnum(32, "0123456789ABCDEF"))
            c["identity"] = {"type": "WebIdentityUser", "principalId": "arn:aws:iam::%s:oidc-provider/%s:sts.amazonaws.com:%s" % (a, prov, sub),
                             "userName": sub, "identityProvider": "arn:aws:iam::%s:oidc-provider/%s" % (a, prov)}
            name = "AssumeRoleWithWebIdentity"
            rp = {"roleArn": arn, "roleSessionName": sess, "durationSeconds": 3600}
            resp = {"credentials": {"accessKeyId": "ASIA" + self.alnum(16), "sessionToken": self.session_token(),
                                    "expiration": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t + 3600))},
                    "subjectFromWebIdentityToken": sub, "assumedRoleUser": {"assumedRoleId": "%s:%s" % (self._role_id(a, role), sess), "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (a, role, sess)},
                    "provider": "arn:aws:iam::%s:oidc-provider/%s" % (a, prov), "audience": "sts.amazonaws.com"}
        else:
            user = "%s.%s@example.com" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES))
            c["identity"] = {"type": "SAMLUser", "principalId": "EXAMPLEdGVzdGlkcA==:%s" % user, "userName": user, "identityProvider": "EXAMPLEdGVzdGlkcA=="}
            name = "AssumeRoleWithSAML"
            rp = {"sAMLAssertionID": "_" + self.hexs(32), "roleSessionName": user, "principalTags": {}, "durationSeconds": 3600, "roleArn": arn,
                  "principalArn": "arn:aws:iam::%s:saml-provider/corp-idp" % a}
            resp = {"credentials": {"accessKeyId": "ASIA" + self.alnum(16), "sessionToken": self.session_token(),
                                    "expiration": time.strftime("%b %d, %Y, %I:%M:%S %p", time.gmtime(self.t + 3600))},
                    "assumedRoleUser": {"assumedRoleId": "%s:%s" % (self._role_id(a, role), user), "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (a, role, user)},
                    "packedPolicySize": 1, "subject": user, "subjectType": "persistent", "issuer": "https://idp.example.com/saml", "audience": "https://signin.aws.amazon.com/saml",
                    "nameQualifier": "EXAMPLEdGVzdGlkcA=="}
        return ("sts.amazonaws.com", name, rp, resp, True, {"resources": [{"accountId": a, "type": "AWS::IAM::Role", "ARN": arn}], "sharedEventID": self.uuid()})

    def m_service_event(self, c):
        r = self.r
        a = c["acct"]
        kind = self.ch(("rotate", "sso", "backup"))
        c["identity"] = {"accountId": a, "invokedBy": self.ch(("kms.amazonaws.com", "sso.amazonaws.com", "backup.amazonaws.com"))}
        c["ip"] = c["ua"] = c["identity"]["invokedBy"]
        c["event_type"] = "AwsServiceEvent"
        if kind == "rotate":
            key = self.ch(self.kms_keys[a])
            c["identity"] = {"accountId": a, "invokedBy": "kms.amazonaws.com"}
            return ("kms.amazonaws.com", "RotateKey", None, None, False,
                    {"resources": [{"accountId": a, "type": "AWS::KMS::Key", "ARN": "arn:aws:kms:%s:%s:key/%s" % (c["region"], a, key)}],
                     "additionalEventData": {"keyId": key}, "_notls": True})
        if kind == "sso":
            return ("sso.amazonaws.com", "Federate", None, None, False, {"serviceEventDetails": {"relayId": self.uuid() + "_" + self.uuid(), "roleName": self.ch(SSO_PERMSETS)}, "_notls": True})
        return ("backup.amazonaws.com", "BackupJobCompleted", None, None, False,
                {"serviceEventDetails": {"backupJobId": self.uuid(), "backupVaultName": "Default", "resourceType": "EBS", "state": "COMPLETED",
                                         "backupSizeInBytes": self.rr(10 ** 8, 10 ** 11), "percentDone": "100.0"}, "_notls": True})

    def m_ec2_near_miss(self, c):
        r = self.r
        a = c["acct"]
        rid = self.uuid()
        name = self.ch(("CreateVpcEndpoint", "DescribeVpcPeeringConnections", "CreateRouteServer", "ModifySecurityGroupRules",
                         "CreateNetworkAclEntries", "CreateNatGateway", "DeleteVpcEndpoints", "CreateDefaultVpc"))
        rp = {"CreateVpcEndpointRequest": {"VpcId": self.ch(self.vpcs[a]), "ServiceName": "com.amazonaws.%s.s3" % c["region"], "VpcEndpointType": "Gateway"}} if name == "CreateVpcEndpoint" else {"vpcId": self.ch(self.vpcs[a])}
        return ("ec2.amazonaws.com", name, rp, {"requestId": rid, "_return": True} if not name.startswith("Describe") else None, name.startswith("Describe"), {"_reqid": rid})

    def m_vpce_denied(self, c):
        a = c["acct"]
        b = self.ch(self.buckets[a])
        c["event_type"] = "AwsVpceEvent"
        c["category"] = "NetworkActivity"
        c["error"] = ("VpceAccessDenied", "The request was denied due to a VPC endpoint policy")
        c["identity"] = {"type": "AWSAccount", "principalId": self.principal_id("AROA") + ":" + self.hexs(8), "accountId": self.ch(OTHER_ACCOUNTS)}
        c["ip"] = "10.%d.%d.%d" % (self.rr(64), self.rr(256), self.rr(1, 255))
        return ("s3.amazonaws.com", "GetObject", {"bucketName": b, "key": "%s/%s.json" % (self.ch(APP_NAMES), self.hexs(12))}, None, True,
                {"vpcEndpointId": "vpce-0" + self.hexs(16), "vpcEndpointAccountId": a, "_notls": True, "_noversion_mgmt": True})

    # ---- routine calls come from a slowly changing pool of pre-encoded variants -------------
    def cached(self, b, c):
        key = (b, c["acct"], c["region"])
        slot = self.variants.get(key)
        if slot is None:
            slot = self.variants[key] = []
        r = self.r
        if len(slot) < VARIANTS_PER_SLOT or r.random() < VARIANT_REFRESH:
            before = dict(c)
            src, name, rp, resp, ro, ex = b(c)
            over = {k: c[k] for k in ("identity", "ip", "ua", "event_type", "category", "error") if c[k] is not before[k]}
            if ex:
                ex = dict(ex)
                for k in ("additionalEventData", "resources", "serviceEventDetails"):
                    if k in ex:
                        ex[k] = Raw(json.dumps(ex[k], separators=(",", ":")))
                if "_reqid" in ex:
                    if src == "s3.amazonaws.com":
                        ex["_reqid"] = S3_REQID
                    else:
                        del ex["_reqid"]
                if "sharedEventID" in ex:
                    ex["sharedEventID"] = True
            spec = (src, name, None if rp is None else Raw(json.dumps(rp, separators=(",", ":"))),
                    None if resp is None else Raw(json.dumps(resp, separators=(",", ":"))), ro, ex)
            if len(slot) < VARIANTS_PER_SLOT:
                slot.append((spec, over))
            else:
                slot[self.rr(VARIANTS_PER_SLOT)] = (spec, over)
            return spec
        spec, over = slot[self.rr(len(slot))]
        if over:
            c.update(over)
        return spec

    # ---- the record --------------------------------------------------------------------------
    def record(self):
        r = self.r
        self.t += r.expovariate(1.0 / MEAN_GAP_SECONDS)
        acct = self.pick(self.accounts)
        region = self.pick(self.regions)
        cat = self.pick(self.mix)
        flag_u = self.pending_u or r.random() < UNICODE_ESCAPE_RATE
        c = {"acct": acct, "region": region, "identity": None, "ip": None, "ua": None, "event_type": "AwsApiCall",
             "category": None, "error": None}
        if cat == "console_login":
            rec = self.console_login(c, flag_u)
        elif cat == "root":
            rec = self.root_activity(c, flag_u)
        else:
            if cat == "routine":
                b = None
            elif cat == "cis_change":
                b = self.pick(self.cis)
            elif cat == "misc":
                b = self.pick(self.misc)
            else:
                b = self.pick(self.routine) if r.random() < 0.85 else self.pick(self.cis)
            c["identity"] = self.identity(acct, "human" if cat == "cis_change" else "any", flag_u)
            spec = self.cached(self.pick(self.routine), c) if b is None else b(c)
            if cat == "error":
                spec = self.make_error(c, spec)
            rec = self.assemble(c, spec)
        if type(rec) is str:
            s = rec
        else:
            s = _dumps(rec)
            self.meta = (acct, rec.get("awsRegion", region))
        if flag_u:
            s = s.translate(ESCAPE_TABLE)
            # a record with nothing to escape passes the flag on, so the rate holds
            self.pending_u = "\\u" not in s
        if ADVERSARIAL_RATE and r.random() < ADVERSARIAL_RATE:
            s = self.adversarial(json.loads(s))
        return self.meta, s

    def user_agent(self, ident, src, name):
        if ident.get("type") == "AssumedRole" and "AWSReservedSSO" in ident.get("arn", "") and self.r.random() < 0.5:
            return self.ch(USER_AGENTS_CONSOLE)
        i = self.rr(len(USER_AGENTS_SDK))
        key = (i, src, name)
        ua = self.ua_cache.get(key)
        if ua is None:
            ua = USER_AGENTS_SDK[i]
            if "{" in ua:
                svc = src.split(".")[0]
                ua = ua.replace("{cmd}", "%s.%s" % (svc, _kebab(name))).replace("{svc}", svc)
            self.ua_cache[key] = ua
        return ua

    def assemble(self, c, spec):
        """The record as compact JSON text, built from pieces (pre-encoded where possible)."""
        src, name, rp, resp, ro, ex = spec
        if ex is None:
            ex = EMPTY
        region = ex.get("_region") or c["region"]
        ident = c["identity"]
        ip = c["ip"] or self.ip()
        ua = c["ua"]
        if ua is None:
            ua = self.user_agent(ident, src, name)
        data = ex.get("_data", False)
        p = ['{"eventVersion":"', self.pick(self.versions), '","userIdentity":', self.ident_json.get(id(ident)) or dumps(ident),
             ',"eventTime":"', self.ts(), '","eventSource":"', src, '","eventName":"', name, '","awsRegion":"', region,
             '","sourceIPAddress":', esc(ip), ',"userAgent":', esc(ua)]
        err = c["error"]
        if err:
            p += (',"errorCode":', esc(err[0]), ',"errorMessage":', esc(err[1]))
        p += (',"requestParameters":', enc(rp), ',"responseElements":', enc(resp))
        v = ex.get("additionalEventData")
        if v is not None:
            p += (',"additionalEventData":', enc(v))
        rid = ex.get("_reqid")
        if rid is S3_REQID:
            rid = "%016X" % self.r.getrandbits(64)
        p += (',"requestID":"', rid or self.uuid(), '","eventID":"', self.uuid(), '","readOnly":', "true" if ro else "false")
        v = ex.get("resources")
        if v is not None:
            p += (',"resources":', enc(v))
        p += (',"eventType":"', c["event_type"], '"')
        v = ex.get("serviceEventDetails")
        if v is not None:
            p += (',"serviceEventDetails":', enc(v))
        vpce = ex.get("vpcEndpointId")
        if vpce is None:
            p += (',"managementEvent":', "false" if data else "true")
        p += (',"recipientAccountId":"', c["acct"], '"')
        v = ex.get("sharedEventID")
        if v is not None:
            p += (',"sharedEventID":"', self.uuid() if v is True else v, '"')
        if vpce is not None:
            p += (',"vpcEndpointId":"', vpce, '","vpcEndpointAccountId":"', ex["vpcEndpointAccountId"], '"')
        p += (',"eventCategory":"', c["category"] or ("Data" if data else "Management"), '"')
        if not ex.get("_notls") and ip != "AWS Internal" and not ip.endswith(".amazonaws.com"):
            tv, cs = TLS[self.rr(len(TLS))]
            p += (',"tlsDetails":{"tlsVersion":"', tv, '","cipherSuite":"', cs, '","clientProvidedHostHeader":"',
                  ex.get("_host") or "%s.%s.amazonaws.com" % (src.split(".")[0], region), '"}')
        if ua in USER_AGENTS_CONSOLE and ident.get("type") in ("AssumedRole", "IAMUser"):
            p.append(',"sessionCredentialFromConsole":"true"')
        p.append("}")
        self.meta = (c["acct"], region)
        return "".join(p)

    # errors: (errorCode, message template) by service
    def make_error(self, c, spec):
        r = self.r
        src, name = spec[0], spec[1]
        svc = src.split(".")[0]
        ident = c["identity"]
        who = ident.get("arn") or "arn:aws:sts::%s:assumed-role/unknown/unknown" % c["acct"]
        action = "%s:%s" % (svc, name.rstrip("0123456789v").replace("20150331", ""))
        x = r.random()
        if svc == "ec2":
            if x < 0.7:
                err = ("Client.UnauthorizedOperation", "You are not authorized to perform this operation. User: %s is not authorized to perform: %s on resource: arn:aws:ec2:%s:%s:*/* because no identity-based policy allows the %s action. Encoded authorization failure message: %s"
                       % (who, action, c["region"], c["acct"], action, self.b64(self.ch((300, 600, 1100)), pad=False).replace("+", "-").replace("/", "_")))
            elif x < 0.85:
                err = ("Client.InvalidInstanceID.NotFound", "The instance ID 'i-0%s' does not exist" % self.hexs(16))
            else:
                err = ("Client.RequestLimitExceeded", "Request limit exceeded.")
        elif svc == "s3":
            err = ("AccessDenied", "Access Denied") if x < 0.75 else (("NoSuchBucketPolicy", "The bucket policy does not exist") if x < 0.85 else ("NoSuchKey", "The specified key does not exist."))
        elif svc in ("iam", "sts"):
            if x < 0.6:
                err = ("AccessDenied", "User: %s is not authorized to perform: %s on resource: arn:aws:iam::%s:role/%s because no identity-based policy allows the %s action"
                       % (who, action, c["acct"], self.ch(self.roles[c["acct"]]), action))
            elif x < 0.85 and svc == "iam":
                err = ("NoSuchEntityException", "The role with name %s cannot be found." % self.ch(self.roles[c["acct"]]))
            elif svc == "sts":
                err = ("ExpiredTokenException", "The security token included in the request is expired")
            else:
                err = ("Throttling", "Rate exceeded")
        else:
            if x < 0.5:
                err = ("AccessDeniedException", "User: %s is not authorized to perform: %s on resource: arn:aws:%s:%s:%s:* because no identity-based policy allows the %s action"
                       % (who, action, svc, c["region"], c["acct"], action))
            elif x < 0.75:
                err = ("ThrottlingException", "Rate exceeded")
            elif x < 0.9:
                err = ("ResourceNotFoundException", "Requested resource not found")
            elif x < 0.96:
                err = ("ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
            else:
                err = ("UnauthorizedOperation", "You are not authorized to perform this operation.")   # no "Client." prefix: still *UnauthorizedOperation
        c["error"] = err
        # failed calls have no response; sometimes no request parameters either
        spec = list(spec)
        spec[3] = None
        if r.random() < 0.2:
            spec[2] = None
        return tuple(spec)

    def console_login(self, c, flag_u):
        r = self.r
        a = c["acct"]
        x = r.random()
        region = "us-east-1"
        ua = self.ch(BROWSERS)
        add = {"LoginTo": self.ch(("https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_" + self.hexs(16),
                                    "https://%s.console.aws.amazon.com/console/home?region=%s" % (c["region"], c["region"]), "https://console.aws.amazon.com/s3/home")),
               "MobileVersion": "No"}
        err = None
        resp = {"ConsoleLogin": "Success"}
        if flag_u:
            ident = dict(self.ch([i for i in self.intl[a] if i["type"] == "IAMUser"]))
            ident.pop("accessKeyId", None)
        else:
            ident = dict(self.ch(self.console_users[a]))
            ident.pop("accessKeyId", None)
        if x < 0.40:
            add["MFAIdentifier"] = "arn:aws:iam::%s:mfa/%s" % (a, ident["userName"])
            add["MFAUsed"] = "Yes"
        elif x < 0.60:
            add["MFAUsed"] = "No"                                    # counted by no_mfa_console_signin_metric
        elif x < 0.85:
            role = "AWSReservedSSO_%s_%s" % (self.ch(SSO_PERMSETS), self.hexs(16))
            ident = self._assumed(a, role, "%s.%s@example.com" % (self.ch(FIRST_NAMES), self.ch(LAST_NAMES)), path="aws-reserved/sso.amazonaws.com/",
                                  created=self.ts())
            ident.pop("accessKeyId")
            add["MFAUsed"] = "No"                                    # federated: not IAMUser, so not counted
            if r.random() < 0.5:
                add["SamlProviderArn"] = "arn:aws:iam::%s:saml-provider/AWSSSO_%s_DO_NOT_DELETE" % (a, self.hexs(16))
        elif x < 0.955:
            err = ("Failed authentication",)
            resp = {"ConsoleLogin": "Failure"}
            add["MFAUsed"] = "No"
            if r.random() < 0.3:
                ident = {"type": "IAMUser", "principalId": a, "accountId": a, "accessKeyId": "", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        elif x < 0.97:
            err = ("No username found in supplied account",)
            resp = {"ConsoleLogin": "Failure"}
            add["MFAUsed"] = "No"
            ident = {"type": "IAMUser", "principalId": a, "accountId": a, "accessKeyId": "", "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        elif x < 0.985:
            pass                                                     # no MFAUsed key at all: != never matches a missing field
        else:
            add["MFAUsed"] = "YES"                                   # upper case, as in one AWS example: != "Yes" is true
        rec = {"eventVersion": self.pick(self.versions), "userIdentity": ident, "eventTime": self.ts(), "eventSource": "signin.amazonaws.com",
               "eventName": "ConsoleLogin", "awsRegion": region, "sourceIPAddress": self.ip(), "userAgent": ua}
        if err:
            rec["errorMessage"] = err[0]
        rec["requestParameters"] = None
        rec["responseElements"] = resp
        rec["additionalEventData"] = add
        rec["eventID"] = self.uuid()
        rec["readOnly"] = False
        rec["eventType"] = "AwsConsoleSignIn"
        rec["managementEvent"] = True
        rec["recipientAccountId"] = a
        rec["eventCategory"] = "Management"
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "%s.signin.aws.amazon.com" % region}
        return rec

    def root_activity(self, c, flag_u):
        r = self.r
        a = c["acct"]
        x = r.random()
        if x < 0.3:
            ident = self.root_identity(a)
            ident.pop("accessKeyId", None)
            ident.pop("sessionContext", None)
            mfa = r.random() < 0.85
            add = {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true", "MobileVersion": "No",
                   "MFAUsed": "Yes" if mfa else "No"}
            if mfa:
                add["MFAIdentifier"] = "arn:aws:iam::%s:mfa/root-account-mfa-device" % a
            rec = {"eventVersion": self.pick(self.versions), "userIdentity": ident, "eventTime": self.ts(), "eventSource": "signin.amazonaws.com",
                   "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": self.ip(), "userAgent": self.ch(BROWSERS),
                   "requestParameters": None, "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": add,
                   "eventID": self.uuid(), "readOnly": False, "eventType": "AwsConsoleSignIn", "managementEvent": True,
                   "recipientAccountId": a, "eventCategory": "Management",
                   "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "signin.aws.amazon.com"}}
            return rec
        if x < 0.75:
            # root API / console actions, no invokedBy: counted by root_usage_metric
            c["identity"] = self.root_identity(a)
            b = self.ch((self.b_s3_mgmt_read, self.b_iam_read, self.b_ec2_describe, self.m_iam_write, self.b_org_read))
            spec = b(c)
            c["identity"] = self.root_identity(a) if c["identity"].get("type") != "Root" else c["identity"]
            c["ip"] = c["ua"] = None
            c["ua"] = self.ch(USER_AGENTS_CONSOLE[:2] + BROWSERS[:1])
            return self.assemble(c, spec)
        if x < 0.92:
            # AWS acting as root (invokedBy present): not counted
            svc = self.ch(("support.amazonaws.com", "health.amazonaws.com", "account.amazonaws.com", "trustedadvisor.amazonaws.com"))
            c["identity"] = self.root_identity(a, invoked_by=svc)
            c["ip"] = c["ua"] = svc
            spec = self.ch((self.b_s3_mgmt_read, self.b_iam_read, self.b_ec2_describe))(c)
            c["identity"] = self.root_identity(a, invoked_by=svc)
            c["ip"] = c["ua"] = svc
            return self.assemble(c, spec)
        # service events with a Root identity: excluded by eventType != AwsServiceEvent
        c["identity"] = self.root_identity(a)
        c["identity"].pop("accessKeyId", None)
        c["identity"].pop("sessionContext", None)
        c["event_type"] = "AwsServiceEvent"
        c["ip"] = c["ua"] = "AWS Internal"
        name = self.ch(("PasswordRecoveryRequested", "PasswordRecoveryCompleted", "CredentialChallenge", "CredentialVerification"))
        return self.assemble(c, ("signin.amazonaws.com", name, None, None, False,
                                 {"serviceEventDetails": {"email": "HIDDEN_DUE_TO_SECURITY_REASONS"},
                                  "_region": "us-east-1", "_notls": True}))

    # ---- adversarial (legal JSON that defeats naive byte matching) ---------------------------
    def adversarial(self, rec):
        r = self.r
        k = self.rr(6)
        rec = dict(rec)
        if k == 0:
            return json.dumps(rec, separators=(", ", " : "))
        if k == 1:
            v = rec.get("eventName") or "X"
            i = self.rr(len(v))
            s = json.dumps(rec, separators=(",", ":"))
            esc = "\\u%04x" % ord(v[i])
            return s.replace('"eventName":%s' % json.dumps(v), '"eventName":"%s%s%s"' % (v[:i], esc, v[i + 1:]), 1)
        if k == 2:
            # tested fields last, identity first
            order = sorted(rec, key=lambda f: (f in ("eventName", "eventSource", "errorCode", "errorMessage"), f))
            return json.dumps({f: rec[f] for f in order}, separators=(",", ":"))
        if k == 3:
            # decoys: tested keys nested inside requestParameters
            rp = rec.get("requestParameters") or {}
            rp = dict(rp) if isinstance(rp, dict) else {}
            rp["detail"] = {"eventName": "StopLogging", "errorCode": "AccessDenied", "eventSource": "kms.amazonaws.com",
                            "userIdentity": {"type": "Root"}, "errorMessage": "Failed authentication"}
            rec["requestParameters"] = rp
            return json.dumps(rec, separators=(",", ":"))
        if k == 4:
            ui = rec.get("userIdentity")
            if isinstance(ui, dict):
                ui = dict(ui)
                ui["invokedBy"] = None                       # present but null: NOT EXISTS is false
                rec["userIdentity"] = ui
            return json.dumps(rec, separators=(",", ":"))
        # errorCode / errorMessage with escapes
        s = json.dumps(rec, separators=(",", ":"))
        return s.replace('"errorCode":"Access', '"errorCode":"\\u0041ccess', 1).replace('"Failed authentication"', '"Failed\\u0020authentication"', 1).replace('"type":"Root"', '"type":"R\\u006fot"', 1)


_KEBAB = {}


def _kebab(name):
    v = _KEBAB.get(name)
    if v is None:
        v = _KEBAB[name] = _kebab1(name)
    return v


def _kebab1(name):
    out = []
    for ch in name:
        if ch.isupper() and out:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)




# --------------------------------------------------------------------------------------------
def s3_key_name(g, acct, region, t):
    stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(t))
    return "%s_CloudTrail_%s_%s_%s.json" % (acct, region, stamp, "".join(g.r.choices(ALNUM, k=16)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, required=True, help="number of records")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=("ndjson", "records", "records-gz"), default="ndjson")
    ap.add_argument("--records-per-file", type=int, default=500, help="records per delivery file (records, records-gz)")
    ap.add_argument("--out", help="output file (ndjson) or folder (records, records-gz); stdout when absent")
    ap.add_argument("--adversarial-rate", type=float, default=None, help="override ADVERSARIAL_RATE (0 disables)")
    ap.add_argument("--stats", action="store_true", help="print size and mix statistics to stderr")
    a = ap.parse_args(argv)
    global ADVERSARIAL_RATE
    if a.adversarial_rate is not None:
        ADVERSARIAL_RATE = a.adversarial_rate
    if a.format == "records-gz" and not a.out:
        ap.error("--format records-gz needs --out DIR")
    g = Gen(a.seed)
    # file names use their own generator so the record stream does not depend on the format
    names = Gen.__new__(Gen)
    names.r = random.Random(a.seed ^ 0x5EED)
    t0 = time.time()
    sizes = [] if a.stats else None
    n_u = n_q = 0
    if a.format == "ndjson":
        out = open(a.out, "w", encoding="ascii", newline="\n", buffering=1 << 20) if a.out else sys.stdout
        buf = []
        for i in range(a.count):
            _, s = g.record()
            buf.append(s)
            if sizes is not None:
                sizes.append(len(s))
                n_u += "\\u" in s
                n_q += '\\"' in s
            if len(buf) >= 2000:
                buf.append("")
                out.write("\n".join(buf))
                buf = []
        if buf:
            buf.append("")
            out.write("\n".join(buf))
        if a.out:
            out.close()
        else:
            out.flush()
    else:
        gz = a.format == "records-gz"
        buffers = {}
        files = 0

        def flush(key, items, t):
            nonlocal files
            acct, region = key
            body = '{"Records":[' + ",".join(items) + "]}"
            if not a.out:
                sys.stdout.write(body + "\n")
                return
            name = s3_key_name(names, acct, region, t + 300)
            sub = os.path.join(a.out, "AWSLogs", acct, "CloudTrail", region, time.strftime("%Y/%m/%d", time.gmtime(t + 300)))
            os.makedirs(sub, exist_ok=True)
            path = os.path.join(sub, name + (".gz" if gz else ""))
            if gz:
                with gzip.open(path, "wb", compresslevel=6) as f:
                    f.write(body.encode("ascii"))
            else:
                with open(path, "w", encoding="ascii") as f:
                    f.write(body)
            files += 1

        for i in range(a.count):
            key, s = g.record()
            if sizes is not None:
                sizes.append(len(s))
            lst = buffers.setdefault(key, [])
            lst.append(s)
            if len(lst) >= a.records_per_file:
                flush(key, lst, g.t)
                buffers[key] = []
        for key in sorted(buffers):
            if buffers[key]:
                flush(key, buffers[key], g.t)
        if a.out:
            print("wrote %d files under %s" % (files, a.out), file=sys.stderr)
    if sizes:
        sizes.sort()
        n = len(sizes)
        print("records %d in %.1fs; bytes/record mean %.0f median %d p90 %d p99 %d max %d; with \\u %.2f%%, with \\\" %.2f%%"
              % (n, time.time() - t0, sum(sizes) / n, sizes[n // 2], sizes[int(n * 0.9)], sizes[int(n * 0.99)], sizes[-1],
                 100.0 * n_u / n, 100.0 * n_q / n), file=sys.stderr)


if __name__ == "__main__":
    main()
