//! The dozen fields of a CloudTrail record the detectors need, found by one structural pass
//! over its top-level members (and one over `userIdentity`) — no parse into values — and copied
//! into a per-batch arena, so a batch's observations cost no allocation once its buffers grew.

use std::ops::Range;

use crate::event::json_scan::{members, trim, unescape};

/// The kind of identity (`userIdentity.type`) that made the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identity {
    /// The account's root user.
    Root,
    /// An IAM user.
    IamUser,
    /// A role session.
    AssumedRole,
    /// An AWS service (`AWSService`): no principal of its own.
    Service,
    /// Anything else (`FederatedUser`, `AWSAccount`, `IdentityCenterUser`, none given).
    #[default]
    Other,
}

/// A field's bytes in [`Observations::arena`].
pub type Span = Range<u32>;

/// What one event tells the detectors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// `eventTime`, milliseconds since the epoch.
    pub time_ms: i64,
    /// `eventTime` as written.
    pub time: Span,
    /// `userIdentity.type`.
    pub identity: Identity,
    /// `userIdentity.arn`, else `principalId`, else `accessKeyId`.
    pub principal: Span,
    /// `userIdentity.accessKeyId`.
    pub access_key: Span,
    /// `recipientAccountId`, else `userIdentity.accountId`.
    pub account: Span,
    /// `awsRegion`.
    pub region: Span,
    /// `sourceIPAddress`.
    pub source_ip: Span,
    /// `userAgent`.
    pub user_agent: Span,
    /// `eventSource`.
    pub event_source: Span,
    /// `eventName`.
    pub event_name: Span,
    /// `errorCode`.
    pub error_code: Span,
    /// `eventID`.
    pub event_id: Span,
    /// `readOnly`, when the record says.
    pub read_only: Option<bool>,
    /// The event's index in the batch's forwarded events, when it was forwarded.
    pub forwarded: Option<u32>,
}

/// A batch's observations and the bytes their fields point into.
#[derive(Debug, Default, Clone)]
pub struct Observations {
    /// Field bytes (unescaped JSON string contents).
    pub arena: Vec<u8>,
    /// In stream order.
    pub items: Vec<Observation>,
}

impl Observations {
    /// Empties it, keeping the capacity.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
    }

    /// A field's bytes.
    pub fn get(&self, s: &Span) -> &[u8] {
        self.arena
            .get(s.start as usize..s.end as usize)
            .unwrap_or_default()
    }

    /// A field as text (fields are UTF-8: events are checked before they get here).
    pub fn text(&self, s: &Span) -> &str {
        std::str::from_utf8(self.get(s)).unwrap_or_default()
    }

    /// Adds the observation of the record `doc`; false (nothing added) when it is not a
    /// CloudTrail API record: not an object, no `eventTime` (nor `@timestamp`), or an Insights event (what this
    /// module writes, which may come back through a shipper).
    pub fn push(&mut self, doc: &[u8], forwarded: Option<u32>) -> bool {
        let mark = self.arena.len();
        let doc = trim(doc);
        let mut o = Observation {
            forwarded,
            ..Observation::default()
        };
        let mut insight = false;
        // Logstash and Elastic shippers move `eventTime` to `@timestamp`.
        let mut timestamp = 0..0;
        let arena = &mut self.arena;
        let scanned = members(doc, 0, |key, v| {
            let value = &doc[v.clone()];
            let slot = match key {
                b"eventTime" => &mut o.time,
                b"awsRegion" => &mut o.region,
                b"sourceIPAddress" => &mut o.source_ip,
                b"userAgent" => &mut o.user_agent,
                b"eventSource" => &mut o.event_source,
                b"eventName" => &mut o.event_name,
                b"errorCode" => &mut o.error_code,
                b"eventID" => &mut o.event_id,
                b"recipientAccountId" => &mut o.account,
                b"@timestamp" => &mut timestamp,
                b"eventType" => {
                    insight = value == b"\"AwsCloudTrailInsight\"";
                    return;
                }
                b"readOnly" => {
                    o.read_only = match value {
                        b"true" => Some(true),
                        b"false" => Some(false),
                        _ => None,
                    };
                    return;
                }
                b"userIdentity" => {
                    identity(value, arena, &mut o);
                    return;
                }
                _ => return,
            };
            *slot = copy_string(value, arena);
        });
        if o.time.is_empty() {
            o.time = timestamp;
        }
        if scanned.is_err() || insight || o.time.is_empty() {
            self.arena.truncate(mark);
            return false;
        }
        let Some(ms) = parse_time_ms(self.get(&o.time)) else {
            self.arena.truncate(mark);
            return false;
        };
        o.time_ms = ms;
        self.items.push(o);
        true
    }
}

/// `userIdentity`'s members into `o` (the account only when `recipientAccountId` did not
/// already give it; it comes later in CloudTrail's order, so it overwrites this one).
fn identity(v: &[u8], arena: &mut Vec<u8>, o: &mut Observation) {
    if v.first() != Some(&b'{') {
        return;
    }
    let (mut arn, mut principal_id, mut key) = (0..0, 0..0, 0..0);
    let _ = members(v, 0, |k, r| {
        let value = &v[r];
        match k {
            b"type" => {
                o.identity = match value {
                    b"\"Root\"" => Identity::Root,
                    b"\"IAMUser\"" => Identity::IamUser,
                    b"\"AssumedRole\"" => Identity::AssumedRole,
                    b"\"AWSService\"" => Identity::Service,
                    _ => Identity::Other,
                }
            }
            b"arn" => arn = copy_string(value, arena),
            b"principalId" => principal_id = copy_string(value, arena),
            b"accessKeyId" => key = copy_string(value, arena),
            b"accountId" if o.account.is_empty() => o.account = copy_string(value, arena),
            _ => {}
        }
    });
    o.principal = [arn, principal_id, key.clone()]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or(0..0);
    o.access_key = key;
}

/// Copies a JSON string value's content (unescaped) to `arena`; empty for other values.
fn copy_string(value: &[u8], arena: &mut Vec<u8>) -> Span {
    let Some(raw) = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
    else {
        return 0..0;
    };
    let start = arena.len();
    if raw.contains(&b'\\') {
        if unescape(raw, arena).is_err() {
            arena.truncate(start);
            return 0..0;
        }
    } else {
        arena.extend_from_slice(raw);
    }
    start as u32..arena.len() as u32
}

impl Observation {
    /// Whether the call only reads: its `readOnly`, else its name (`Get…`, `List…`,
    /// `Describe…` and the like).
    pub fn is_read(&self, obs: &Observations) -> bool {
        const READS: [&[u8]; 9] = [
            b"Get",
            b"List",
            b"Describe",
            b"Head",
            b"Lookup",
            b"Search",
            b"BatchGet",
            b"Filter",
            b"Query",
        ];
        self.read_only.unwrap_or_else(|| {
            let name = obs.get(&self.event_name);
            READS.iter().any(|p| name.starts_with(p))
        })
    }
}

/// Services whose calls CloudTrail records in us-east-1 wherever they are made from (their
/// endpoints are global), so they say nothing about where a principal works.
pub fn is_global_service(event_source: &[u8]) -> bool {
    const GLOBAL: [&[u8]; 12] = [
        b"iam.amazonaws.com",
        b"sts.amazonaws.com",
        b"organizations.amazonaws.com",
        b"route53.amazonaws.com",
        b"route53domains.amazonaws.com",
        b"cloudfront.amazonaws.com",
        b"globalaccelerator.amazonaws.com",
        b"support.amazonaws.com",
        b"signin.amazonaws.com",
        b"health.amazonaws.com",
        b"ce.amazonaws.com",
        b"account.amazonaws.com",
    ];
    GLOBAL.contains(&event_source)
}

/// Milliseconds since the epoch of an RFC 3339 time; CloudTrail's `2024-05-01T12:34:56Z` is read
/// directly, anything else goes through the general parser.
pub fn parse_time_ms(t: &[u8]) -> Option<i64> {
    if let Some(ms) = fast_time(t) {
        return Some(ms);
    }
    let s = std::str::from_utf8(t).ok()?;
    let ns = crate::time::parse_rfc3339_nanos(s)?;
    i64::try_from(ns / 1_000_000).ok()
}

fn fast_time(t: &[u8]) -> Option<i64> {
    if t.len() != 20 || t[4] != b'-' || t[7] != b'-' || t[10] != b'T' || t[19] != b'Z' {
        return None;
    }
    if t[13] != b':' || t[16] != b':' {
        return None;
    }
    let n = |r: Range<usize>| -> Option<i64> {
        t[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some((days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss) * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 (UTC, seconds) of `ms` since the epoch.
pub fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(
        |_| "1970-01-01T00:00:00Z".to_owned(),
        |t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

/// A stable 64-bit fingerprint of `b` under `seed` (states store fingerprints, so it must never
/// change between versions without a new state-file version). A multiply-rotate over 8-byte
/// words with a murmur3 finaliser: ~1 ns per word, good enough spread for hash tables and
/// first-seen sets (a collision only hides one "new" value).
pub fn fingerprint(seed: u64, b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// The family of a user agent: its first product name, without version (compared ignoring case)
/// (`aws-cli/2.15.0 Python/3.11` → `aws-cli`; `APN/1.0 HashiCorp/1.0 Terraform/1.6` →
/// `Terraform`; `Mozilla/5.0 (…)` → `mozilla`; `signin.amazonaws.com` stays itself).
pub fn user_agent_family(ua: &[u8]) -> &[u8] {
    let ua = ua.strip_prefix(b"[").unwrap_or(ua);
    let mut tokens = ua
        .split(|&c| c == b' ' || c == b'(' || c == b',' || c == b';' || c == b']')
        .filter(|t| !t.is_empty());
    let Some(first) = tokens.next() else {
        return b"";
    };
    let name = product(first);
    if name.eq_ignore_ascii_case(b"APN") {
        // AWS Partner Network prefix: the tool follows after the partner's name.
        if let Some(tool) = tokens.filter(|t| t.contains(&b'/')).nth(1) {
            return product(tool);
        }
    }
    name
}

/// A user-agent token's product name (before `/`).
fn product(t: &[u8]) -> &[u8] {
    let name = t.split(|&c| c == b'/').next().unwrap_or(t);
    name.strip_suffix(b":").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &[u8] = br#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:i-0abc","arn":"arn:aws:sts::111122223333:assumed-role/Web/i-0abc","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"attributes":{"mfaAuthenticated":"false"}}},"eventTime":"2024-05-01T12:34:56Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0 Python/3.11","errorCode":"AccessDenied","requestParameters":{"x":{"eventName":"nested"}},"eventID":"e-1","eventType":"AwsApiCall","recipientAccountId":"444455556666"}"#;

    #[test]
    fn extracts_the_fields() {
        let mut obs = Observations::default();
        assert!(obs.push(RECORD, Some(3)));
        let o = &obs.items[0];
        assert_eq!(
            obs.text(&o.principal),
            "arn:aws:sts::111122223333:assumed-role/Web/i-0abc"
        );
        assert_eq!(o.identity, Identity::AssumedRole);
        assert_eq!(obs.text(&o.access_key), "ASIAEXAMPLE");
        assert_eq!(obs.text(&o.account), "444455556666");
        assert_eq!(obs.text(&o.region), "eu-west-1");
        assert_eq!(obs.text(&o.source_ip), "198.51.100.7");
        assert_eq!(obs.text(&o.event_source), "s3.amazonaws.com");
        assert_eq!(obs.text(&o.event_name), "ListBuckets");
        assert_eq!(obs.text(&o.error_code), "AccessDenied");
        assert_eq!(obs.text(&o.event_id), "e-1");
        assert_eq!(o.time_ms, 1_714_566_896_000);
        assert_eq!(o.forwarded, Some(3));
    }

    #[test]
    fn principal_falls_back_and_escapes_are_decoded() {
        let mut obs = Observations::default();
        let r = br#"{"userIdentity":{"type":"AWSAccount","principalId":"AIDA\u0041X","accountId":"1"},"eventTime":"2024-05-01T12:34:56.250Z"}"#;
        assert!(obs.push(r, None));
        let o = &obs.items[0];
        assert_eq!(obs.text(&o.principal), "AIDAAX");
        assert_eq!(obs.text(&o.account), "1");
        assert_eq!(o.time_ms, 1_714_566_896_250);
    }

    #[test]
    fn not_observed() {
        let mut obs = Observations::default();
        assert!(!obs.push(b"plain text", None));
        assert!(!obs.push(br#"{"eventName":"x"}"#, None));
        assert!(!obs.push(br#"{"eventTime":"yesterday"}"#, None));
        assert!(!obs.push(
            br#"{"eventTime":"2024-05-01T12:34:56Z","eventType":"AwsCloudTrailInsight"}"#,
            None
        ));
        assert!(!obs.push(br#"{"eventTime":"2024-05-01T12:34:56Z","#, None));
        assert!(obs.items.is_empty() && obs.arena.is_empty());
    }

    #[test]
    fn fast_time_agrees_with_the_general_parser() {
        for t in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-12-31T00:00:01Z",
            "2100-03-01T12:00:00Z",
        ] {
            let general = crate::time::parse_rfc3339_nanos(t).unwrap() / 1_000_000;
            assert_eq!(fast_time(t.as_bytes()), Some(general as i64), "{t}");
            assert_eq!(format_time(general as i64), t);
        }
        assert_eq!(fast_time(b"2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn user_agent_families() {
        let f = |s: &str| String::from_utf8(user_agent_family(s.as_bytes()).to_vec()).unwrap();
        assert_eq!(
            f("aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64"),
            "aws-cli"
        );
        assert_eq!(f("Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0"), "Boto3");
        assert_eq!(f("[aws-sdk-go-v2/1.24.0 os/linux]"), "aws-sdk-go-v2");
        assert_eq!(
            f("APN/1.0 HashiCorp/1.0 Terraform/1.6.2 (+https://www.terraform.io)"),
            "Terraform"
        );
        assert_eq!(f("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"), "Mozilla");
        assert_eq!(f("signin.amazonaws.com"), "signin.amazonaws.com");
        assert_eq!(f("AWS Internal"), "AWS");
        assert_eq!(f(""), "");
    }

    #[test]
    fn fingerprints_are_stable() {
        // Stored in state files: a change here needs a new state-file version.
        assert_eq!(fingerprint(0, b""), fingerprint(0, b""));
        assert_ne!(fingerprint(0, b"a"), fingerprint(1, b"a"));
        assert_ne!(fingerprint(0, b"12345678a"), fingerprint(0, b"12345678b"));
        assert_eq!(
            fingerprint(7, b"arn:aws:iam::1:user/alice"),
            18_087_846_353_783_211_499
        );
    }
}
