#!/usr/bin/env python3
"""Deterministic synthetic CloudTrail scenario for judging anomaly detectors (Python 3.11, stdlib only).

    anomaly_scenario.py [--events N] [--days D] [--seed S] --out scenario.ndjson --truth truth.json [--stats]

Writes N compact CloudTrail records (one JSON object a line, sorted by eventTime) spanning D days
from 2027-03-01T00:00:00Z (a Monday), and a ground-truth JSON file listing the injected attacks.
Defaults: 2,000,000 events, 14 days, seed 1.  The output depends only on --events, --days, --seed.

What it models
  Benign traffic of 5 invented accounts, each with its own time zone and home/secondary region:
  * EC2 instance-role sessions  arn:aws:sts::ACCT:assumed-role/<role>/i-0...  (one private address,
    one region, 1-2 SDK/agent user-agent families, temporary ASIA keys that rotate every ~6 h);
    an autoscaling churn keeps starting new instances (new principals) through the period;
  * Lambda function roles (a pool of 4-8 NAT addresses, flat or cron-like: every 5-60 min);
  * SSO humans  assumed-role/AWSReservedSSO_<PermSet>_<hex>/<name>@example.com  (console browser,
    some also aws-cli; office + home address; active ~08-19 local on weekdays, little at
    night/weekends); a few join during the period;
  * IAM users with long-term AKIA keys (CLI humans, and machine users such as backup agents), IAM
    console users (fresh ASIA key per sign-in), the root user (rare console use, 2 accounts);
  * CI: GitHub Actions deploy role (stable session name) and Terraform runs (a new session, hence
    a new principal, per run), runs in working hours as bursts of 6-15 minutes;
  * AWS service principals (userIdentity.type AWSService, sourceIPAddress "ec2.amazonaws.com" or
    "AWS Internal").
  Every principal has a stable repertoire: 1-3 addresses, 1-2 regions (IAM/Organizations calls are
  recorded in us-east-1, as CloudTrail does), 1-2 user-agent families (versions may change within a
  family, e.g. an aws-cli upgrade), a Zipf-weighted API set (eventSource:eventName) sized by its
  activity.  About 0.6 % of calls fail benignly (AccessDenied on one API the principal lacks,
  ThrottlingException / Client.RequestLimitExceeded).  Per account+API per-minute counts follow the
  daily rhythm; no benign source makes 30 calls of one account+API in a minute above 10x its mean.

Injected attacks (all after day 8 when D >= 10; otherwise in the last 40 % of the period), 3 of each:
  stolen_credential (-> new_source_ip), permission_enumeration (-> error_burst), new_region,
  api_spike (-> api_call_rate), error_spike (-> api_error_rate), new_user_agent, new_access_key,
  new_api.  truth.json lists each with id, kind, detector, principal (ARN, or null for an
  account-level attack), account, api ("eventSource:eventName" for rate attacks), start, end and
  eventIDs.  Attack targets are principals present from hour 0 (so past any learning period of up
  to 7 days by day 8) and the injected value is outside their repertoire.

truth.json also lists "benign_novelty": benign events of an *established* principal (first seen >= 7
days earlier, or >= 2 days earlier with >= 500 events - the detectors' default learning rule) that
are the principal's first with a source address (IPv4 /32, IPv6 /64), region, user-agent family
(the text before the first "/" or space, "[" stripped: "aws-cli", "Boto3", "Mozilla", "APN" ...),
API, or (IAM users/root) AKIA key.  A first-seen detector cannot avoid alarming on those; the
report counts them separately.  They come from the Zipf tails of rarely active principals.

Honesty notes: everything is synthetic and invented here - account ids, names, keys, ARNs, buckets;
addresses are RFC 5737 (192.0.2/24, 198.51.100/24, 203.0.113/24), RFC 3849 (2001:db8::/32) and
private (10/8) ranges.  The repertoire/rhythm parameters are plausible guesses, not measurements
of real accounts; real traffic has more drift (new tools, travel, key rotation), so false-alarm
rates measured here are a lower bound.  Records are leaner than real ones (no tlsDetails,
resources, additionalEventData; all eventCategory Management, eventType AwsApiCall).
--stats prints counts and timing to stderr.
"""

import argparse
import base64
import bisect
import calendar
import json
import math
import random
import sys
import time
from itertools import accumulate

START = calendar.timegm((2027, 3, 1, 0, 0, 0))      # Monday
LEARN_SECS, LEARN_MIN_SECS, LEARN_EVENTS = 7 * 86400, 2 * 86400, 500   # detectors' default rule

ACCOUNTS = [  # id, weight, tz offset hours, home region, secondary region
    ("210987654321", 0.34, -5, "us-east-1", "us-west-2"),
    ("345678901234", 0.24, 1, "eu-west-1", "eu-central-1"),
    ("456789012345", 0.17, 0, "eu-west-2", "us-east-1"),
    ("567890123456", 0.15, -8, "us-west-2", "us-east-1"),
    ("678901234567", 0.10, 9, "ap-northeast-1", "ap-southeast-2"),
]
GLOBAL_SVCS = {"iam", "organizations"}
ATTACK_REGIONS = ["ap-southeast-3", "me-central-1", "sa-east-1", "af-south-1", "ap-south-2"]
ERR_RATE = 0.006

P_APP = ["ssm:GetParameter", "secretsmanager:GetSecretValue", "kms:Decrypt", "sts:AssumeRole", "kms:GenerateDataKey",
         "ec2:DescribeTags", "logs:CreateLogStream", "logs:DescribeLogStreams", "s3:GetBucketLocation",
         "dynamodb:DescribeTable", "ecr:GetAuthorizationToken", "ssm:GetParametersByPath", "sts:GetCallerIdentity",
         "ec2:DescribeInstances", "autoscaling:DescribeAutoScalingGroups", "elasticloadbalancing:DescribeTargetHealth",
         "ssm:UpdateInstanceInformation", "ssm:ListInstanceAssociations", "sqs:GetQueueUrl", "sns:ListTopics"]
P_K8S = ["autoscaling:DescribeAutoScalingGroups", "ec2:DescribeInstances", "ec2:DescribeLaunchTemplateVersions",
         "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes", "ec2:AssignPrivateIpAddresses",
         "ec2:CreateNetworkInterface", "ec2:AttachNetworkInterface", "ec2:DescribeSubnets", "ecr:GetAuthorizationToken",
         "sts:AssumeRoleWithWebIdentity", "ec2:DescribeSecurityGroups"]
P_LAMBDA = ["kms:Decrypt", "ssm:GetParameter", "secretsmanager:GetSecretValue", "dynamodb:DescribeTable",
            "sts:AssumeRole", "sts:GetCallerIdentity", "s3:GetBucketLocation", "kms:GenerateDataKey",
            "ssm:GetParameters", "sns:ListTopics", "sqs:GetQueueUrl", "ec2:DescribeNetworkInterfaces"]
P_HUMAN = ["ec2:DescribeInstances", "ec2:DescribeSecurityGroups", "s3:ListBuckets", "s3:GetBucketAcl",
           "s3:GetBucketPolicy", "s3:GetBucketLocation", "iam:ListRoles", "iam:GetRole", "iam:ListAttachedRolePolicies",
           "cloudtrail:LookupEvents", "cloudformation:DescribeStacks", "cloudformation:ListStacks", "logs:DescribeLogGroups",
           "logs:FilterLogEvents", "monitoring:DescribeAlarms", "lambda:ListFunctions20150331",
           "lambda:GetFunction20150331v2", "ecs:DescribeServices", "ecs:ListTasks",
           "elasticloadbalancing:DescribeLoadBalancers", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeVolumes",
           "iam:ListPolicies", "iam:GetPolicyVersion", "kms:ListAliases", "kms:ListKeys", "dynamodb:ListTables",
           "secretsmanager:ListSecrets", "ssm:DescribeInstanceInformation", "ec2:DescribeImages", "sts:GetCallerIdentity",
           "autoscaling:DescribeAutoScalingGroups", "ec2:StartInstances", "ec2:StopInstances", "ec2:CreateTags",
           "ecs:UpdateService", "lambda:UpdateFunctionCode20150331v2", "ssm:StartSession", "iam:ListUsers"]
P_CLI = ["sts:GetCallerIdentity", "s3:ListBuckets", "ec2:DescribeInstances", "s3:GetBucketLocation",
         "ecr:GetAuthorizationToken", "logs:FilterLogEvents", "ssm:GetParameter", "cloudformation:DescribeStacks",
         "lambda:ListFunctions20150331", "eks:DescribeCluster", "ec2:DescribeSecurityGroups", "iam:GetUser",
         "sts:AssumeRole", "secretsmanager:GetSecretValue", "dynamodb:DescribeTable", "ecs:ListTasks",
         "eks:ListClusters", "logs:DescribeLogGroups"]
P_SVCUSER = ["s3:GetBucketLocation", "s3:ListBuckets", "ec2:DescribeSnapshots", "ec2:DescribeVolumes",
             "ec2:CreateSnapshot", "ec2:DeleteSnapshot", "dynamodb:DescribeTable", "monitoring:ListMetrics",
             "monitoring:DescribeAlarms", "ec2:DescribeRegions", "rds:DescribeDBInstances", "rds:DescribeDBSnapshots"]
P_CI = ["sts:GetCallerIdentity", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups",
        "iam:GetRole", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
        "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketVersioning", "s3:GetBucketEncryption",
        "s3:GetBucketTagging", "lambda:GetFunction20150331v2", "logs:DescribeLogGroups", "kms:DescribeKey",
        "kms:GetKeyPolicy", "dynamodb:DescribeTable", "ecs:DescribeServices", "ecs:UpdateService",
        "ecr:GetAuthorizationToken", "lambda:UpdateFunctionCode20150331v2", "cloudformation:DescribeStacks",
        "ec2:DescribeLaunchTemplates", "elasticloadbalancing:DescribeTargetGroups"]
P_ROOT = ["iam:GetAccountSummary", "s3:ListBuckets", "iam:ListAccountAliases", "ce:GetCostAndUsage",
          "account:GetAccountInformation", "iam:GetAccountPasswordPolicy", "organizations:DescribeOrganization"]
P_SERVICE = {
    "ec2.amazonaws.com": ["sts:AssumeRole", "kms:Decrypt", "kms:GenerateDataKeyWithoutPlaintext"],
    "lambda.amazonaws.com": ["sts:AssumeRole", "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces"],
    "ecs-tasks.amazonaws.com": ["sts:AssumeRole"],
    "autoscaling.amazonaws.com": ["ec2:RunInstances", "ec2:TerminateInstances", "ec2:CreateTags"],
    "s3.amazonaws.com": ["kms:GenerateDataKey", "kms:Decrypt"],
    "secretsmanager.amazonaws.com": ["kms:Decrypt", "kms:GenerateDataKey"],
}
NEW_API_CHOICES = ["iam:CreateAccessKey", "kms:ScheduleKeyDeletion", "iam:AttachUserPolicy", "iam:CreateUser",
                   "iam:PutRolePolicy", "s3:PutBucketPolicy", "ec2:ModifySnapshotAttribute", "kms:DisableKey",
                   "cloudtrail:StopLogging", "iam:UpdateAssumeRolePolicy"]
ENUM_APIS = ["iam:ListUsers", "iam:ListRoles", "iam:ListPolicies", "iam:GetAccountAuthorizationDetails", "iam:ListGroups",
             "iam:ListAccessKeys", "s3:ListBuckets", "ec2:DescribeInstances", "ec2:DescribeSecurityGroups",
             "ec2:DescribeVpcs", "ec2:DescribeSnapshots", "ec2:DescribeKeyPairs", "kms:ListKeys", "secretsmanager:ListSecrets",
             "ssm:DescribeParameters", "lambda:ListFunctions20150331", "dynamodb:ListTables", "rds:DescribeDBInstances",
             "organizations:ListAccounts", "cloudtrail:DescribeTrails", "sns:ListTopics", "sqs:ListQueues",
             "ecr:DescribeRepositories", "eks:ListClusters", "guardduty:ListDetectors", "logs:DescribeLogGroups",
             "route53:ListHostedZones", "iam:ListInstanceProfiles", "config:DescribeConfigRules", "backup:ListBackupVaults"]

FIRST = ["alice", "bob", "carol", "dinesh", "emma", "farid", "grace", "hiro", "ines", "jamal", "kate", "lars", "mei",
         "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq", "uma", "victor", "wen", "xavier", "yara", "zoltan"]
LAST = ["adams", "baker", "chen", "diaz", "evans", "fischer", "garcia", "haddad", "ito", "jensen", "kowalski",
        "lopez", "moreau", "nakamura", "okafor", "patel", "rossi", "silva", "tanaka"]
APPS = ["orders", "payments", "catalog", "search", "ingest", "reports", "auth", "inventory", "notify", "billing",
        "etl", "analytics", "checkout", "profile"]
PERMSETS = ["AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "DataEngineer", "SecurityAudit", "Developer"]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v2} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
]
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
HEX = "0123456789abcdef"
UUID_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in HEX}
_dumps = json.JSONEncoder(separators=(",", ":")).encode
READ_PREFIXES = ("Describe", "List", "Get", "Lookup", "BatchGet", "Decrypt", "GenerateDataKey", "Filter", "Head")
IAM_PREFIX = {"monitoring": "cloudwatch", "elasticloadbalancing": "elasticloadbalancing"}


def ua_family(ua):
    s = ua.lstrip("[")
    i = len(s)
    for ch in "/ ":
        j = s.find(ch)
        if j != -1 and j < i:
            i = j
    return s[:i]


def ip_key(ip):
    if ":" in ip:
        return ":".join(ip.split("::")[0].split(":")[:4]) if "." not in ip else ip
    if ip[0].isdigit():
        return ip
    return None            # "ec2.amazonaws.com", "AWS Internal": not an address


class P:
    """A principal."""
    __slots__ = ("i", "kind", "acct", "arn", "ptype", "name", "role", "temp", "key", "created", "ident", "sess_len",
                 "sess_until", "w", "rclass", "birth", "death", "profile", "apis", "api_cum", "ips", "ip_cum", "regions",
                 "reg_cum", "uas", "ua_cum", "ua_up_t", "ua_up", "denied", "first", "count", "seen", "ec2", "mfa",
                 "invoked", "role_id", "uid", "version", "cron")

    def __init__(self, **kw):
        self.temp = False
        self.key = None
        self.ident = None
        self.sess_until = 0.0
        self.sess_len = 6 * 3600
        self.ua_up_t = math.inf
        self.ua_up = None
        self.denied = None
        self.first = None
        self.count = 0
        self.seen = None
        self.ec2 = False
        self.mfa = "false"
        self.invoked = None
        self.cron = None
        self.birth, self.death = 0, 10 ** 9
        for k, v in kw.items():
            setattr(self, k, v)


class Gen:
    def __init__(self, n_events, days, seed):
        self.r = random.Random(seed)
        self.ra = random.Random(seed * 7919 + 17)    # attack planning: independent of the benign stream's draws
        self.N, self.days = n_events, days
        self.hours = days * 24
        self.end = START + days * 86400
        self.principals = []
        self.role_ids = {}
        self._tc = (None, None)
        self.used_ips = set()
        self.variants = {}
        self.nov = []
        self.attacks = []
        self.attack_by_id = {}
        self.scale = 1.0

    # ---- helpers ------------------------------------------------------------------------
    def ch(self, s, r=None):
        return s[int((r or self.r).random() * len(s))]

    def alnum(self, n, r=None):
        r = r or self.r
        nb = (n * 5 + 7) // 8
        return base64.b32encode(r.getrandbits(nb * 8).to_bytes(nb, "little")).decode("ascii")[:n]

    def hexs(self, n, r=None):
        return "%0*x" % (n, (r or self.r).getrandbits(4 * n))

    def uuid(self):
        h = "%032x" % self.r.getrandbits(128)
        return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-" + UUID_VARIANT[h[16]] + h[17:20] + "-" + h[20:]

    def ts(self, t):
        s = int(t)
        if self._tc[0] == s:
            return self._tc[1]
        v = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
        self._tc = (s, v)
        return v

    def fresh_ip(self, kind):
        r = self.r
        while True:
            if kind == "private":
                ip = "10.%d.%d.%d" % (r.randrange(0, 64), r.randrange(256), r.randrange(1, 255))
            elif kind == "office":
                ip = "203.0.113.%d" % r.randrange(1, 200)
            elif kind == "home":
                x = r.random()
                if x < 0.3:
                    ip = "2001:db8:%x:%x::%x" % (r.getrandbits(16), r.getrandbits(16), r.getrandbits(16))
                else:
                    ip = "%s.%d" % ("198.51.100" if x < 0.65 else "192.0.2", r.randrange(1, 255))
                    return ip            # homes may share (CGNAT); not reserved
            else:  # nat
                ip = "198.51.100.%d" % r.randrange(1, 255)
                return ip
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                return ip

    # ---- principals ---------------------------------------------------------------------
    def role_id(self, acct, role):
        k = (acct, role)
        if k not in self.role_ids:
            self.role_ids[k] = "AROA" + self.alnum(17)
        return self.role_ids[k]

    def add(self, **kw):
        p = P(i=len(self.principals), **kw)
        self.principals.append(p)
        return p

    def assumed(self, acct, role, session, kind, path="", **kw):
        p = self.add(kind=kind, acct=acct, ptype="AssumedRole", role=role, name=session, temp=True,
                     arn="arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, session),
                     role_id=self.role_id(acct, role), uid=path, version="1.09", **kw)
        return p

    def build_ident(self, p, t):
        """(Re)encode p's userIdentity; for temporary credentials a fresh ASIA key and creationDate."""
        r = self.r
        a = p.acct
        if p.ptype == "AWSService":
            p.ident = _dumps({"type": "AWSService", "invokedBy": p.invoked})
            return
        if p.temp:
            p.key = "ASIA" + self.alnum(16)
            created = self.ts(max(t - r.randrange(0, 600), START - 3600))
        if p.ptype == "AssumedRole":
            ctx = {"sessionIssuer": {"type": "Role", "principalId": p.role_id,
                                     "arn": "arn:aws:iam::%s:role/%s%s" % (a, p.uid, p.role), "accountId": a,
                                     "userName": p.role},
                   "webIdFederationData": {}, "attributes": {"creationDate": created, "mfaAuthenticated": p.mfa}}
            if p.ec2:
                ctx["ec2RoleDelivery"] = "2.0"
            d = {"type": "AssumedRole", "principalId": "%s:%s" % (p.role_id, p.name), "arn": p.arn, "accountId": a,
                 "accessKeyId": p.key, "sessionContext": ctx}
        elif p.ptype == "IAMUser":
            d = {"type": "IAMUser", "principalId": p.role_id, "arn": p.arn, "accountId": a, "accessKeyId": p.key,
                 "userName": p.name}
            if p.temp:
                d["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                       "attributes": {"creationDate": created, "mfaAuthenticated": p.mfa}}
        else:  # Root
            d = {"type": "Root", "principalId": a, "arn": p.arn, "accountId": a, "accessKeyId": p.key}
            if p.temp:
                d["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                       "attributes": {"creationDate": created, "mfaAuthenticated": p.mfa}}
        p.ident = _dumps(d)

    def sdk_ua(self, fam):
        r = self.r
        if fam == "cli":
            mi = r.randrange(13, 18)
            return "aws-cli/2.%d.%d Python/3.11.%d %s exe/x86_64 prompt/off command/%s" % (
                mi, r.randrange(0, 40), r.randrange(4, 10),
                self.ch(["Linux/6.1.79-99.164.amzn2023.x86_64", "Darwin/23.5.0", "Windows/10", "Linux/5.15.0-105-generic"]),
                self.ch(["s3.ls", "ec2.describe-instances", "sts.get-caller-identity", "logs.tail", "ssm.get-parameter"]))
        if fam == "boto3":
            v = "1.34.%d" % r.randrange(10, 160)
            return "Boto3/%s md/Botocore#%s ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.%d md/pyimpl#CPython cfg/retry-mode#legacy Botocore/%s" % (
                v, v, r.randrange(4, 10), v)
        if fam == "boto3-lambda":
            v = "1.34.%d" % r.randrange(10, 160)
            return "Boto3/%s md/Botocore#%s ua/2.0 os/linux#5.10.216-225.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/%s" % (v, v, v)
        if fam == "node-lambda":
            return "aws-sdk-nodejs/2.%d.0 linux/v18.19.1 exec-env/AWS_Lambda_nodejs18.x promise" % r.randrange(1500, 1600)
        if fam == "go":
            return "aws-sdk-go-v2/1.%d.%d os/linux lang/go#1.22.%d md/GOOS#linux md/GOARCH#amd64" % (
                r.randrange(24, 30), r.randrange(0, 5), r.randrange(0, 5))
        if fam == "java":
            return "aws-sdk-java/2.25.%d Linux/5.10.214-202.855.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy" % r.randrange(1, 60)
        if fam == "ssm-agent":
            return "amazon-ssm-agent/3.3.%d.0" % r.randrange(300, 500)
        if fam == "terraform":
            return "APN/1.0 HashiCorp/1.0 Terraform/1.6.%d (+https://www.terraform.io) terraform-provider-aws/5.%d.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.26.0 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64" % (
                r.randrange(0, 7), r.randrange(30, 50))
        if fam == "k8s":
            return "kubernetes/v1.29.3-eks-adc7111 aws-sdk-go/1.48.1 (go1.21.6; linux; amd64) cluster-autoscaler"
        if fam == "browser":
            return self.ch(BROWSERS).format(v=r.randrange(120, 126), v2=r.randrange(1, 6))
        raise ValueError(fam)

    def build_principals(self):
        r = self.r
        H = self.hours
        for ai, (acct, aw, tz, home, sec) in enumerate(ACCOUNTS):
            office = [self.fresh_ip("office") for _ in range(2)]
            natpool = [self.fresh_ip("nat") for _ in range(10)]
            rc_h, rc_m = ("human", tz), ("machine", tz)
            roles = ["%s-%s-%s" % (self.ch(APPS), self.ch(["prod", "staging", "dev"]), self.ch(["ec2-role", "instance-role", "node-role"]))
                     for _ in range(12)]
            # EC2 instances: a base fleet present all period plus churn
            n_inst = int(700 * aw / 0.34) + 60
            for j in range(n_inst):
                churn = j >= n_inst * 0.75
                birth = r.randrange(1, H - 2) if churn else 0
                death = min(H, birth + r.randrange(12, 120)) if churn else 10 ** 9
                k8s = r.random() < 0.15
                role = "eks-node-role" if k8s else self.ch(roles)
                p = self.assumed(acct, role, "i-0" + self.hexs(16), "ec2", ec2=True, w=r.lognormvariate(0, 0.9),
                                 rclass=rc_m if r.random() < 0.7 else "flat", birth=birth, death=death,
                                 profile=P_K8S if k8s else P_APP)
                p.ips = [self.fresh_ip("private")]
                p.regions = [home if r.random() < 0.85 else sec]
                fams = ["k8s"] if k8s else [self.ch(["boto3", "go", "java", "boto3"])]
                if not k8s and r.random() < 0.4:
                    fams.append("ssm-agent")
                p.uas = [self.sdk_ua(f) for f in fams]
                p.ua_cum = [1.0] if len(fams) == 1 else [0.8, 1.0]
            # Lambda functions
            for j in range(int(80 * aw / 0.34) + 10):
                fn = "%s-%s-%s" % (self.ch(APPS), self.ch(["prod", "staging"]), self.ch(["handler", "worker", "api", "consumer", "cron"]))
                fn += "-%s" % self.hexs(4)
                birth = r.randrange(1, H - 24) if j % 12 == 11 else 0
                p = self.assumed(acct, fn + "-exec-role", fn, "lambda", w=r.lognormvariate(0.5, 1.0), rclass=rc_m,
                                 birth=birth, profile=P_LAMBDA)
                p.sess_len = r.randrange(2, 12) * 3600
                p.ips = r.sample(natpool, r.randrange(4, 9))
                p.regions = [home]
                p.uas = [self.sdk_ua(self.ch(["boto3-lambda", "node-lambda"]))]
                p.ua_cum = [1.0]
                if r.random() < 0.25:
                    p.cron = (self.ch([5, 10, 15, 30, 60]) * 60, r.randrange(1, 6), r.randrange(0, 3600))
            # SSO humans
            nh = int(160 * aw / 0.34) + 12
            for j in range(nh):
                name = "%s.%s%s" % (self.ch(FIRST), self.ch(LAST), "" if r.random() < 0.7 else str(r.randrange(2, 9)))
                ps = self.ch(PERMSETS)
                birth = r.randrange(24, H - 24) if j >= nh - 3 else 0
                p = self.assumed(acct, "AWSReservedSSO_%s_%s" % (ps, self.hexs(16)), name + "@example.com", "sso",
                                 path="aws-reserved/sso.amazonaws.com/", w=r.lognormvariate(0.6, 0.8), rclass=rc_h,
                                 birth=birth, profile=P_HUMAN)
                p.sess_len = r.randrange(8, 13) * 3600
                p.ips = [self.ch(office), self.fresh_ip("home")] + ([self.fresh_ip("home")] if r.random() < 0.15 else [])
                p.ip_cum = list(accumulate([0.6, 0.4, 0.05][:len(p.ips)]))
                p.regions = [home] if r.random() < 0.7 else [home, sec]
                cli = r.random() < 0.35
                p.uas = [self.sdk_ua("browser")] + ([self.sdk_ua("cli")] if cli else [])
                p.ua_cum = [1.0] if not cli else [0.6, 1.0]
                if cli and r.random() < 0.3:     # aws-cli upgrade mid-period: same family
                    p.ua_up_t, p.ua_up = START + r.randrange(86400, self.days * 86400), self.sdk_ua("cli")
                p.mfa = "true"
            # IAM users: CLI humans with AKIA keys, machine users, console users
            for j in range(int(30 * aw / 0.34) + 4):
                name = "%s.%s" % (self.ch(FIRST), self.ch(LAST))
                console = j % 4 == 3
                p = self.add(kind="iam_console" if console else "iam_cli", acct=acct, ptype="IAMUser", name=name,
                             arn="arn:aws:iam::%s:user/%s" % (acct, name), role_id="AIDA" + self.alnum(17),
                             version="1.08", w=r.lognormvariate(0.2, 0.8), rclass=rc_h,
                             profile=P_HUMAN if console else P_CLI, temp=console, mfa="true")
                if not console:
                    p.key = "AKIA" + self.alnum(16)
                p.sess_len = 10 * 3600
                p.ips = [self.ch(office), self.fresh_ip("home")]
                p.ip_cum = [0.7, 1.0]
                p.regions = [home]
                p.uas = [self.sdk_ua("browser" if console else "cli")]
                p.ua_cum = [1.0]
                if not console and r.random() < 0.3:
                    p.ua_up_t, p.ua_up = START + r.randrange(86400, self.days * 86400), self.sdk_ua("cli")
            for n in ("backup-agent", "legacy-sync", "monitoring-exporter", "reporting-batch"):
                p = self.add(kind="svcuser", acct=acct, ptype="IAMUser", name=n, arn="arn:aws:iam::%s:user/%s" % (acct, n),
                             role_id="AIDA" + self.alnum(17), version="1.08", w=r.lognormvariate(1.0, 0.5), rclass="flat",
                             profile=P_SVCUSER, key="AKIA" + self.alnum(16))
                p.ips = [self.fresh_ip("office") if r.random() < 0.5 else self.fresh_ip("private")]
                p.regions = [home]
                p.uas = [self.sdk_ua(self.ch(["boto3", "go", "java"]))]
                p.ua_cum = [1.0]
            if ai in (0, 2):
                p = self.add(kind="root", acct=acct, ptype="Root", name="root", arn="arn:aws:iam::%s:root" % acct,
                             version="1.08", w=0.35, rclass=rc_h, profile=P_ROOT, temp=True, mfa="true")
                p.sess_len = 2 * 3600
                p.ips = [office[0]]
                p.regions = ["us-east-1"]
                p.uas = [self.sdk_ua("browser")]
                p.ua_cum = [1.0]
            # CI: GitHub Actions (stable session) and Terraform (session per run)
            for role, sess, fam in (("github-actions-deploy", "GitHubActions", "go"), ("terraform-ci", None, "terraform")):
                ci_ips = [self.fresh_ip("nat") for _ in range(3 if sess else 1)]
                base = None
                if sess:
                    base = self.assumed(acct, role, sess, "ci", w=0.0, rclass="flat", profile=P_CI)
                    base.ips, base.regions = ci_ips, [home]
                    base.uas, base.ua_cum = [self.sdk_ua(fam)], [1.0]
                    base.sess_len = 3600
                for day in range(self.days):
                    if time.gmtime(START + day * 86400).tm_wday >= 5:
                        continue
                    for _ in range(r.randrange(2, 6)):
                        t0 = START + day * 86400 + (r.uniform(9, 18) - tz) * 3600
                        if not (START + 1800 <= t0 < self.end - 1800):
                            continue
                        if sess:
                            p = base
                        else:
                            p = self.assumed(acct, role, "terraform-%d" % r.randrange(10 ** 9, 10 ** 10), "ci", w=0.0,
                                             rclass="flat", profile=P_CI, birth=int((t0 - START) // 3600))
                            p.ips, p.regions = ci_ips, [home]
                            p.uas, p.ua_cum = [self.sdk_ua(fam)], [1.0]
                            p.sess_len = 3600
                        if p.cron is None:
                            p.cron = []
                        p.cron.append((t0, r.randrange(30, 150), r.uniform(360, 900)))
            # AWS service principals
            for svc, apis in P_SERVICE.items():
                p = self.add(kind="service", acct=acct, ptype="AWSService", name=svc, arn=None, invoked=svc,
                             version="1.08", w=r.lognormvariate(1.5, 0.5) * aw / 0.34, rclass=rc_m, profile=apis)
                p.ips = [svc if r.random() < 0.7 else "AWS Internal"]
                p.regions = [home]
                p.uas = [svc]
                p.ua_cum = [1.0]

    def rhythm_tables(self):
        hum = [0.02, 0.02, 0.02, 0.02, 0.02, 0.03, 0.06, 0.2, 0.7, 1.0, 1.0, 1.0, 0.7, 0.9, 1.0, 1.0, 0.9, 0.8,
               0.5, 0.25, 0.15, 0.1, 0.06, 0.03]
        R = {"flat": [1.0] * self.hours}
        for (_, _, tz, _, _) in ACCOUNTS:
            h_tab, m_tab = [], []
            for h in range(self.hours):
                lt = time.gmtime(START + h * 3600 + tz * 3600)
                v = hum[lt.tm_hour] * (0.08 if lt.tm_wday >= 5 else 1.0)
                h_tab.append(v)
                m_tab.append(0.7 + 0.6 * v)
            R[("human", tz)] = h_tab
            R[("machine", tz)] = m_tab
        self.R = R

    def plan(self):
        """Schedule cron/CI events, scale the rest, size repertoires."""
        r = self.r
        self.rhythm_tables()
        self.sched = []                # (t, principal)
        cron_budget = 0.1 * self.N
        crons = [p for p in self.principals if p.cron is not None and p.w > 0]   # cron lambdas
        est = sum(self.days * 86400 / c[0] * c[1] for c in (p.cron for p in crons))
        keep = min(1.0, cron_budget / est) if est else 1.0
        for p in crons:
            period, k, off = p.cron
            t = START + off % period
            while t < self.end:
                if r.random() < keep and p.birth * 3600 + START <= t:
                    for _ in range(k):
                        self.sched.append((t + r.uniform(0, 8), p))
                t += period
        ci_scale = min(1.0, 0.04 * self.N / max(1, sum(c[1] for p in self.principals if p.w == 0 and p.cron for c in p.cron)))
        for p in self.principals:
            if p.w == 0 and p.cron:
                for (t0, n, dur) in p.cron:
                    for _ in range(max(5, int(n * ci_scale))):
                        self.sched.append((t0 + r.uniform(0, dur), p))
        self.sched = sorted((x for x in self.sched if x[0] < self.end), key=lambda x: x[0])
        R = self.R
        tot = [0.0] * self.hours
        self.flow = [p for p in self.principals if p.w > 0 and p.cron is None]
        for p in self.flow:
            tab = R[p.rclass]
            for h in range(p.birth, min(p.death, self.hours)):
                tot[h] += p.w * tab[h]
        s = sum(tot)
        self.scale = (self.N - len(self.sched)) / s      # provisional: sizes the repertoires
        self.repertoires()
        self.plan_attacks()
        n_rest = self.N - len(self.sched) - sum(len(a["specs"]) for a in self.attacks)
        if n_rest < 0:
            sys.exit("--events too small for the scheduled and injected events")
        self.per_hour = []
        acc, done = 0.0, 0
        for h in range(self.hours):
            acc += tot[h] / s * n_rest
            n = int(round(acc)) - done
            self.per_hour.append(n)
            done += n
        self.scale = n_rest / s

    def expected(self, p, h0, h1):
        if p.cron is not None:
            return None
        tab = self.R[p.rclass]
        return self.scale * p.w * sum(tab[h] for h in range(max(h0, p.birth), min(h1, p.death, self.hours)))

    def repertoires(self):
        r = self.r
        for p in self.principals:
            prof = p.profile
            if p.cron is not None and p.w == 0:
                e7 = 400.0
            elif p.cron is not None:
                e7 = 7 * 86400 / p.cron[0] * p.cron[1]
            else:
                e7 = self.expected(p, p.birth, p.birth + 7 * 24)
            k = max(2, min(len(prof), int(1.7 * math.log(1 + e7))))
            if p.kind == "service":
                k = len(prof)
            # popular first: a mostly-ordered sample of the profile
            idx = sorted(r.sample(range(len(prof)), k), key=lambda i: i + r.uniform(0, 4))
            p.apis = [prof[i] for i in idx]
            p.api_cum = list(accumulate(1.0 / (j + 1) ** 1.15 for j in range(k)))
            p.api_cum = [c / p.api_cum[-1] for c in p.api_cum]
            if not hasattr_set(p, "ip_cum"):
                n = len(p.ips)
                p.ip_cum = [(j + 1) / n for j in range(n)]
            if len(p.regions) == 2:
                p.reg_cum = [0.8, 1.0]
            else:
                p.reg_cum = [1.0]
            if p.kind in ("ec2", "lambda", "sso", "iam_cli", "iam_console", "ci") and r.random() < 0.15:
                p.denied = self.ch([a for a in P_HUMAN + P_CLI if a not in p.apis])
        # expected per-minute rate of each account+API (for rate attacks)
        rates = {}
        for p in self.flow:
            e = self.expected(p, 24, self.hours)
            prev = 0.0
            for a, c in zip(p.apis, p.api_cum):
                k = (p.acct, a)
                rates[k] = rates.get(k, 0.0) + e * (c - prev)
                prev = c
        day1 = START + 86400
        per_p = {}
        for t, p in self.sched:
            if t >= day1:
                per_p[p] = per_p.get(p, 0) + 1
        for p, e in per_p.items():
            for a, c, prev in zip(p.apis, p.api_cum, [0.0] + p.api_cum[:-1]):
                k = (p.acct, a)
                rates[k] = rates.get(k, 0.0) + e * (c - prev)
        mins = (self.hours - 24) * 60
        self.rates = {k: v / mins for k, v in rates.items()}

    # ---- attacks ------------------------------------------------------------------------
    def plan_attacks(self):
        ra = self.ra
        kinds = [("stolen_credential", "new_source_ip"), ("permission_enumeration", "error_burst"),
                 ("new_region", "new_region"), ("api_spike", "api_call_rate"), ("error_spike", "api_error_rate"),
                 ("new_user_agent", "new_user_agent"), ("new_access_key", "new_access_key"), ("new_api", "new_api")]
        first_day = 8.0 if self.days >= 10 else self.days * 0.6
        lo, hi = START + first_day * 86400 + 3600, self.end - 3 * 3600
        slots = [lo + (hi - lo) * (i + 0.5) / 24 for i in range(24)]
        order = [k for k in kinds for _ in range(3)]
        ra.shuffle(order)
        est_all = [p for p in self.principals if p.birth == 0 and p.death > self.hours and p.ptype != "AWSService"
                   and p.cron is None]
        est = [p for p in est_all if (self.expected(p, 0, 24 * 7) or 0) >= 40 or (p.kind == "root" and self.expected(p, 0, 24) >= 3)]
        used = set()

        def pick(cond):
            c = [p for p in est if p.i not in used and cond(p)]
            if not c:      # small runs: the busiest matching principal present from the start
                c = sorted((p for p in est_all if p.i not in used and cond(p)), key=lambda p: -self.expected(p, 0, 24 * 7))[:1]
            if not c:
                sys.exit("no principal fits an attack; use more --events")
            c.sort(key=lambda p: p.i)
            p = c[int(ra.random() * len(c))]
            used.add(p.i)
            return p
        counts = {}
        for slot, (kind, det) in zip(slots, order):
            n = counts[kind] = counts.get(kind, 0) + 1
            t = slot + ra.uniform(-1800, 1800)
            a = {"id": "%s-%d" % (kind, n), "kind": kind, "detector": det, "principal": None, "account": None,
                 "api": None, "specs": [], "eventIDs": []}
            specs = a["specs"]

            def spec(tt, p, api, **kw):
                d = {"p": p, "api": api, "attack": a}
                d.update(kw)
                specs.append((tt, d))
            if kind == "stolen_credential":
                p = pick(lambda p: p.kind == "ec2" and p.profile is P_APP)
                ip = ("203.0.113.%d" % (200 + n * 11 + ra.randrange(10))) if n != 2 else "2001:db8:bad:%x::%x" % (ra.getrandbits(16), ra.getrandbits(16))
                ua = "aws-cli/2.15.%d Python/3.11.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off command/%s" % (ra.randrange(1, 40), "s3.ls")
                for j, api in enumerate(["sts:GetCallerIdentity", "s3:ListBuckets", "iam:ListRoles", "iam:ListAttachedRolePolicies",
                                         "s3:ListBuckets", "ec2:DescribeInstances", "secretsmanager:ListSecrets", "iam:ListUsers"][:ra.randrange(5, 9)]):
                    spec(t + j * ra.uniform(5, 60), p, api, ip=ip, ua=ua, region=p.regions[0])
            elif kind == "permission_enumeration":
                p = pick(lambda p: p.kind in ("iam_cli", "ec2"))
                apis = ra.sample(ENUM_APIS, ra.randrange(16, 24))
                m = ra.randrange(30, 61)
                for j in range(m):
                    spec(t + j * 270.0 / m + ra.uniform(0, 3), p, apis[j % len(apis)], err="denied")
            elif kind == "new_region":
                p = pick(lambda p: p.kind in ("sso", "iam_cli", "ci") or (p.kind == "ec2" and p.profile is P_APP))
                reg = ATTACK_REGIONS[n % len(ATTACK_REGIONS)]
                for j, api in enumerate(["ec2:DescribeRegions", "ec2:DescribeImages", "ec2:RunInstances", "ec2:DescribeInstances"]):
                    spec(t + j * ra.uniform(10, 40), p, api, region=reg)
            elif kind in ("api_spike", "error_spike"):
                acct = ACCOUNTS[(n + (0 if kind == "api_spike" else 2)) % len(ACCOUNTS)][0]
                cands = sorted((v, k[1]) for k, v in self.rates.items() if k[0] == acct and v <= 6
                               and k[1].split(":")[0] not in GLOBAL_SVCS and (acct, k[1]) not in used)
                mid = [c for c in cands if c[0] >= 0.2]
                cands = mid if len(mid) >= 3 else cands[-5:]     # small runs: the busiest APIs up to 6/min
                base, api = cands[int(ra.random() * len(cands))]
                used.add((acct, api))
                users = sorted((p for p in est if p.acct == acct and api in p.apis), key=lambda p: p.i)
                if n == 2 or not users:
                    users = users[:1] if users else [pick(lambda p: p.acct == acct and p.kind == "ec2")]
                dur = ra.uniform(600, 900)
                rate = max(25 * base, 60.0) if kind == "api_spike" else max(30 * base, 70.0)
                m = int(rate * dur / 60)
                err = None if kind == "api_spike" else ("throttle" if n != 2 else "denied")
                for j in range(m):
                    spec(t + j * dur / m, users[j % len(users)], api, err=err)
                a["account"], a["api"] = acct, api.split(":")[0] + ".amazonaws.com:" + api.split(":")[1]
                a["baseline_per_minute"] = round(base, 3)
                a["injected_per_minute"] = round(rate, 1)
            elif kind == "new_user_agent":
                p = pick(lambda p: p.kind in ("sso", "iam_console") and len(p.uas) == 1)
                ua = "python-requests/2.31.0" if n != 2 else self.sdk_ua_attack(ra)
                for j in range(ra.randrange(5, 15)):
                    spec(t + j * ra.uniform(3, 30), p, p.apis[min(j % 4, len(p.apis) - 1)], ua=ua)
            elif kind == "new_access_key":
                if n == 3 and any(q.kind == "root" for q in est):
                    p = pick(lambda p: p.kind == "root")
                else:
                    p = pick(lambda p: p.kind in ("iam_cli", "svcuser"))
                key = "AKIA" + self.alnum(16, ra)
                for j in range(ra.randrange(4, 10)):
                    spec(t + j * ra.uniform(5, 60), p, p.apis[min(j % 3, len(p.apis) - 1)], key=key,
                         ua=p.uas[0] if p.kind != "root" else "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.79 exe/x86_64 prompt/off command/s3.ls")
            elif kind == "new_api":
                p = pick(lambda p: p.kind in ("sso", "iam_cli", "ec2", "lambda"))
                api = self.ch([x for x in NEW_API_CHOICES if x not in p.apis and x != p.denied], ra)
                reg = "us-east-1" if api.split(":")[0] in GLOBAL_SVCS else p.regions[0]
                for j in range(ra.randrange(1, 4)):
                    spec(t + j * ra.uniform(5, 60), p, api, region=reg)
            if a["principal"] is None and kind not in ("api_spike", "error_spike"):
                a["principal"] = specs[0][1]["p"].arn
                a["account"] = specs[0][1]["p"].acct
            if kind in ("api_spike", "error_spike") and len({id(s[1]["p"]) for s in specs}) == 1:
                a["principal"] = specs[0][1]["p"].arn
            a["t0"], a["t1"] = specs[0][0], max(s[0] for s in specs)
            self.attacks.append(a)
        self.attack_specs = [x for _, x in sorted(((tt, i), (tt, d)) for i, (tt, d) in
                                                   enumerate(s for a in self.attacks for s in a["specs"]))]

    def sdk_ua_attack(self, ra):
        return "Boto3/1.34.%d md/Botocore#1.34.%d ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.%d" % ((ra.randrange(1, 100),) * 3)

    # ---- records ------------------------------------------------------------------------
    def params(self, acct, region, api):
        k = (acct, region, api)
        v = self.variants.get(k)
        if v is None:
            v = self.variants[k] = [self.build_params(acct, region, api) for _ in range(6)]
        if self.r.random() < 0.02:
            v[int(self.r.random() * 6)] = self.build_params(acct, region, api)
        return v[int(self.r.random() * 6)]

    def build_params(self, acct, region, api):
        r = self.r
        svc, name = api.split(":")
        app = self.ch(APPS)
        req, resp = None, None
        if name in ("GetParameter", "GetParametersByPath", "GetParameters"):
            req = {"name": "/%s/%s/%s" % (self.ch(["prod", "staging"]), app, self.ch(["db_url", "api_key", "feature_flags", "endpoint"])),
                   "withDecryption": r.random() < 0.6}
        elif name == "GetSecretValue":
            req = {"secretId": "arn:aws:secretsmanager:%s:%s:secret:%s/%s-%s" % (region, acct, app, self.ch(["db", "api", "token"]), self.alnum(6))}
        elif svc == "kms" and name in ("Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "Encrypt", "DescribeKey", "GetKeyPolicy", "ScheduleKeyDeletion", "DisableKey"):
            key = "arn:aws:kms:%s:%s:key/%s-%s-4%s-a%s-%s" % (region, acct, self.hexs(8), self.hexs(4), self.hexs(3), self.hexs(3), self.hexs(12))
            req = {"keyId": key, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"} if name == "Decrypt" else {"keyId": key}
            if name.startswith("GenerateDataKey"):
                req["keySpec"] = "AES_256"
            if name == "ScheduleKeyDeletion":
                req["pendingWindowInDays"] = 7
                resp = {"keyId": key, "keyState": "PendingDeletion", "pendingWindowInDays": 7}
        elif name in ("AssumeRole", "AssumeRoleWithWebIdentity"):
            role = "%s-%s-role" % (app, self.ch(["prod", "staging"]))
            req = {"roleArn": "arn:aws:iam::%s:role/%s" % (acct, role), "roleSessionName": "%s-%d" % (app, r.randrange(10 ** 9)),
                   "durationSeconds": 3600}
            resp = {"credentials": {"accessKeyId": "ASIA" + self.alnum(16), "sessionToken": "IQoJb3JpZ2luX2VjE" + self.alnum(40),
                                    "expiration": "Mar 1, 2027, 1:00:00 PM"},
                    "assumedRoleUser": {"assumedRoleId": "AROA%s:%s-%d" % (self.alnum(17), app, r.randrange(10 ** 9)),
                                        "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (acct, role, app)}}
        elif svc == "s3" and name != "ListBuckets":
            req = {"bucketName": "%s-%s-%s" % (app, self.ch(["prod", "staging"]), self.ch(["assets", "logs", "exports", "backups"])),
                   "Host": "s3.%s.amazonaws.com" % region}
            req[{"GetBucketAcl": "acl", "GetBucketPolicy": "policy", "GetBucketLocation": "location", "GetBucketVersioning": "versioning",
                 "GetBucketEncryption": "encryption", "GetBucketTagging": "tagging", "PutBucketPolicy": "policy"}.get(name, "x")] = ""
        elif svc == "ec2" and name.startswith("Describe"):
            req = {"maxResults": 1000} if r.random() < 0.5 else {"filterSet": {"items": [{"name": "tag:app", "valueSet": {"items": [{"value": app}]}}]}}
        elif svc == "ec2" and name in ("RunInstances",):
            req = {"instancesSet": {"items": [{"imageId": "ami-0" + self.hexs(16), "minCount": 1, "maxCount": r.randrange(1, 20)}]},
                   "instanceType": self.ch(["p4d.24xlarge", "c5.18xlarge", "m5.large", "g5.12xlarge"])}
        elif svc == "ec2" and name in ("StartInstances", "StopInstances", "CreateTags", "TerminateInstances"):
            req = {"instancesSet": {"items": [{"instanceId": "i-0" + self.hexs(16)}]}}
        elif svc == "iam" and name in ("GetRole", "ListAttachedRolePolicies", "ListRolePolicies", "PutRolePolicy", "UpdateAssumeRolePolicy"):
            req = {"roleName": "%s-%s-role" % (app, self.ch(["prod", "staging"]))}
        elif svc == "iam" and name in ("GetUser", "CreateAccessKey", "AttachUserPolicy", "CreateUser", "ListAccessKeys"):
            req = {"userName": "%s.%s" % (self.ch(FIRST), self.ch(LAST))}
            if name == "AttachUserPolicy":
                req["policyArn"] = "arn:aws:iam::aws:policy/AdministratorAccess"
            if name == "CreateAccessKey":
                resp = {"accessKey": {"userName": req["userName"], "accessKeyId": "AKIA" + self.alnum(16), "status": "Active",
                                      "createDate": "Mar 9, 2027, 3:12:44 AM"}}
        elif name.startswith(("Describe", "List", "Get")):
            req = None if r.random() < 0.5 else {"maxResults": self.ch([50, 100, 1000])}
        elif svc == "logs":
            req = {"logGroupName": "/aws/%s/%s" % (self.ch(["lambda", "ecs", "ec2"]), app), "logStreamName": self.hexs(32)}
        else:
            req = {"name": "%s-%s" % (app, self.hexs(6))}
        return (_dumps(req) if req is not None else "null", _dumps(resp) if resp is not None else "null")

    def error_fields(self, p, svc, name, region, kind):
        if kind == "throttle":
            if svc == "ec2":
                return '"errorCode":"Client.RequestLimitExceeded","errorMessage":"Request limit exceeded.",'
            return '"errorCode":"ThrottlingException","errorMessage":"Rate exceeded",'
        who = p.arn or p.invoked
        act = "%s:%s" % (IAM_PREFIX.get(svc, svc), name.rstrip("0123456789v").replace("20150331", ""))
        if svc == "ec2":
            return ('"errorCode":"Client.UnauthorizedOperation","errorMessage":"You are not authorized to perform this operation. '
                    'User: %s is not authorized to perform: %s on resource: arn:aws:ec2:%s:%s:* because no identity-based policy allows the %s action. '
                    'Encoded authorization failure message: %s",' % (who, act, region, p.acct, act, self.alnum(48)))
        code = "AccessDenied" if svc in ("iam", "s3", "sts", "organizations") else "AccessDeniedException"
        return ('"errorCode":"%s","errorMessage":"User: %s is not authorized to perform: %s because no identity-based policy allows the %s action",'
                % (code, who, act, act))

    def run(self, out, stats):
        r = self.r
        t_start = time.time()
        self.build_principals()
        self.plan()
        for p in self.principals:
            if not p.temp:
                self.build_ident(p, START)
        w = out.write
        buf = []
        nbytes = 0
        count = 0
        benign_after = 0
        sched, si = self.sched, 0
        atk, ai = self.attack_specs, 0
        R = self.R
        pick = bisect.bisect_left
        for h in range(self.hours):
            h0 = START + h * 3600
            h1 = h0 + 3600
            alive = [p for p in self.flow if p.birth <= h < p.death]
            cw = list(accumulate(p.w * R[p.rclass][h] for p in alive))
            n = self.per_hour[h]
            items = [(h0 + r.random() * 3600, p, None) for p in r.choices(alive, cum_weights=cw, k=n)] if n else []
            while si < len(sched) and sched[si][0] < h1:
                items.append((sched[si][0], sched[si][1], None))
                si += 1
            while ai < len(atk) and atk[ai][0] < h1:
                items.append((atk[ai][0], atk[ai][1]["p"], atk[ai][1]))
                ai += 1
            items.sort(key=lambda x: x[0])
            for t, p, sp in items:
                # session / user-agent state
                if p.temp and t >= p.sess_until:
                    self.build_ident(p, t)
                    p.sess_until = t + p.sess_len * (0.7 + 0.6 * r.random())
                if t >= p.ua_up_t:
                    p.uas[0] = p.ua_up
                    p.ua_up_t = math.inf
                err = None
                ident = p.ident
                key = p.key
                if sp is None:
                    x = r.random()
                    api = p.apis[pick(p.api_cum, x)] if len(p.apis) > 1 else p.apis[0]
                    ip = p.ips[pick(p.ip_cum, r.random())] if len(p.ips) > 1 else p.ips[0]
                    ua = p.uas[pick(p.ua_cum, r.random())] if len(p.uas) > 1 else p.uas[0]
                    region = p.regions[pick(p.reg_cum, r.random())] if len(p.regions) > 1 else p.regions[0]
                    if r.random() < ERR_RATE:
                        if p.denied and r.random() < 0.6:
                            api, err = p.denied, "denied"
                        else:
                            err = "throttle"
                else:
                    api = sp["api"]
                    ip = sp.get("ip") or p.ips[0]
                    ua = sp.get("ua") or p.uas[0]
                    region = sp.get("region") or p.regions[0]
                    err = sp.get("err")
                    if "key" in sp:
                        key = sp["key"]
                        d = json.loads(ident)
                        d["accessKeyId"] = key
                        d.pop("sessionContext", None)
                        ident = _dumps(d)
                svc, name = api.split(":", 1)
                if svc in GLOBAL_SVCS:
                    region = "us-east-1"
                eid = self.uuid()
                ets = self.ts(t)
                if err:
                    ef = self.error_fields(p, svc, name, region, err)
                    req, resp = self.params(p.acct, region, api)[0], "null"
                else:
                    ef = ""
                    req, resp = self.params(p.acct, region, api)
                ro = "true" if name.startswith(READ_PREFIXES) else "false"
                line = ('{"eventVersion":"%s","userIdentity":%s,"eventTime":"%s","eventSource":"%s.amazonaws.com","eventName":"%s",'
                        '"awsRegion":"%s","sourceIPAddress":"%s","userAgent":"%s",%s"requestParameters":%s,"responseElements":%s,'
                        '"requestID":"%s","eventID":"%s","readOnly":%s,"eventType":"AwsApiCall","managementEvent":true,'
                        '"recipientAccountId":"%s","eventCategory":"Management"}\n') % (
                    p.version, ident, ets, svc, name, region, ip, ua, ef, req, resp, self.uuid(), eid, ro, p.acct)
                buf.append(line)
                count += 1
                # first-seen bookkeeping (benign novelty)
                if p.first is None:
                    p.first = t
                    p.seen = (set(), set(), set(), set(), set())
                p.count += 1
                sn = p.seen
                ipk = ip_key(ip)
                fam = ua_family(ua)
                akia = key if (key and key.startswith("AKIA") and p.ptype in ("IAMUser", "Root")) else None
                new = []
                if ipk is not None and ipk not in sn[0]:
                    sn[0].add(ipk)
                    new.append("new_source_ip")
                if region not in sn[1]:
                    sn[1].add(region)
                    new.append("new_region")
                if fam not in sn[2]:
                    sn[2].add(fam)
                    new.append("new_user_agent")
                if api not in sn[3]:
                    sn[3].add(api)
                    new.append("new_api")
                if akia is not None and akia not in sn[4]:
                    sn[4].add(akia)
                    new.append("new_access_key")
                if sp is not None:
                    sp["attack"]["eventIDs"].append(eid)
                else:
                    if t >= START + 7 * 86400:
                        benign_after += 1
                    if new and p.count > 1:
                        age = t - p.first
                        if age >= LEARN_SECS or (age >= LEARN_MIN_SECS and p.count > LEARN_EVENTS):
                            self.nov.append({"eventID": eid, "eventTime": ets, "principal": p.arn or p.invoked, "new": new})
            if buf:
                s = "".join(buf)
                nbytes += len(s)
                w(s)
                buf = []
        elapsed = time.time() - t_start
        return count, nbytes, elapsed, benign_after

    def truth(self):
        atk = []
        for a in sorted(self.attacks, key=lambda a: a["t0"]):
            d = {k: a[k] for k in ("id", "kind", "detector", "principal", "account", "api")}
            d["start"], d["end"] = self.ts(a["t0"]), self.ts(a["t1"])
            for k in ("baseline_per_minute", "injected_per_minute"):
                if k in a:
                    d[k] = a[k]
            d["events"] = len(a["eventIDs"])
            d["eventIDs"] = a["eventIDs"]
            atk.append(d)
        return {"generator": "benches/anomaly_scenario.py", "seed": self.seed, "events": self.N, "days": self.days,
                "start": self.ts(START), "end": self.ts(self.end),
                "accounts": [a[0] for a in ACCOUNTS],
                "learning_rule": "established when first seen >= 7d ago, or >= 2d ago with > 500 events",
                "ua_family_rule": "text before the first '/' or space, leading '[' stripped",
                "attacks": atk, "benign_novelty": self.nov}


def hasattr_set(o, name):
    try:
        getattr(o, name)
        return True
    except AttributeError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="scenario NDJSON ('-' for stdout)")
    ap.add_argument("--truth", required=True, help="ground-truth JSON")
    ap.add_argument("--stats", action="store_true", help="counts and timing to stderr")
    a = ap.parse_args()
    if a.days < 3:
        sys.exit("--days must be at least 3")
    g = Gen(a.events, a.days, a.seed)
    g.seed = a.seed
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="ascii", buffering=1 << 20)
    count, nbytes, elapsed, benign_after = g.run(out, a.stats)
    if out is not sys.stdout:
        out.close()
    with open(a.truth, "w") as f:
        json.dump(g.truth(), f, indent=1)
        f.write("\n")
    if a.stats:
        kinds = {}
        for p in g.principals:
            if p.count:
                kinds[p.kind] = kinds.get(p.kind, 0) + 1
        nov = {}
        for x in g.nov:
            for d in x["new"]:
                nov[d] = nov.get(d, 0) + 1
        print("events %d  bytes %d (%.0f per event)  principals %d %s" % (
            count, nbytes, nbytes / max(1, count), sum(kinds.values()), kinds), file=sys.stderr)
        print("attacks %d (%d injected events)  benign events after day 7: %d  benign novelty events %d %s" % (
            len(g.attacks), sum(len(x["eventIDs"]) for x in g.attacks), benign_after, len(g.nov), nov), file=sys.stderr)
        print("%.1f s (%.0f events/s)" % (elapsed, count / elapsed), file=sys.stderr)


if __name__ == "__main__":
    main()
