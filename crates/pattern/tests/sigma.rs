//! Sigma rules on events: every construct of the specification, each with a small rule written
//! here and events on both sides of it. Each event is evaluated twice — with the prefilter and
//! with every event parsed — and the two must agree (the prefilter only skips, never decides).

use trailwatch_pattern::sigma::{SigmaError, SigmaOptions, SigmaRule};
use trailwatch_pattern::{EvalOptions, Evaluator, FilterSet};

fn rule_with(detection: &str, options: &SigmaOptions) -> Result<SigmaRule, SigmaError> {
    let text = format!(
        "title: test rule\nid: 00000000-0000-0000-0000-000000000000\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}\nlevel: high\n"
    );
    SigmaRule::parse(&text, options)
}

fn rule(detection: &str) -> SigmaRule {
    match rule_with(detection, &SigmaOptions::default()) {
        Ok(r) => r,
        Err(e) => panic!("rule does not load: {e}\n{detection}"),
    }
}

/// Whether `rule` matches `event`; asserts that prefiltered and full evaluation agree.
fn matches(rule: &SigmaRule, event: &str) -> bool {
    let set = FilterSet::new(vec![rule.filter()]);
    let mut ev = Evaluator::new();
    let fast = ev
        .evaluate(&set, event.as_bytes(), EvalOptions::default())
        .matched(0);
    let full = ev
        .evaluate(
            &set,
            event.as_bytes(),
            EvalOptions {
                always_parse: true,
                explain: false,
            },
        )
        .matched(0);
    assert_eq!(
        fast, full,
        "prefilter and full evaluation disagree on {event}"
    );
    fast
}

fn explain(rule: &SigmaRule, event: &str) -> String {
    let set = FilterSet::new(vec![rule.filter()]);
    let mut ev = Evaluator::new();
    let out = ev.evaluate(
        &set,
        event.as_bytes(),
        EvalOptions {
            always_parse: true,
            explain: true,
        },
    );
    out.explain(0).unwrap_or_default().to_owned()
}

// "Default Sigma behaviour is case-insensitive matching."
#[test]
fn strings_match_case_insensitively() {
    let r = rule("    selection:\n        eventName: 'DeleteDetector'\n    condition: selection");
    assert!(matches(&r, r#"{"eventName":"DeleteDetector"}"#));
    assert!(matches(&r, r#"{"eventName":"deletedetector"}"#));
    assert!(matches(&r, r#"{"eventName":"DELETEDETECTOR"}"#));
    assert!(!matches(&r, r#"{"eventName":"DeleteDetectors"}"#));
    assert!(!matches(&r, r#"{"eventName":"Delete"}"#));
    assert!(!matches(&r, r#"{"other":"DeleteDetector"}"#));
    // Unicode case folding, and escapes that spell the value.
    let r = rule("    selection:\n        userName: 'Ärger'\n    condition: selection");
    assert!(matches(&r, r#"{"userName":"äRGER"}"#));
    let r = rule("    selection:\n        eventName: 'Kelvin'\n    condition: selection");
    assert!(
        matches(&r, "{\"eventName\":\"\u{212A}elvin\"}"),
        "KELVIN SIGN folds to k"
    );
    assert!(matches(&r, r#"{"eventName":"\u004belvin"}"#));
}

// "cased: Values are applied case sensitively."
#[test]
fn cased_is_case_sensitive() {
    let r =
        rule("    selection:\n        eventName|cased: 'DeleteDetector'\n    condition: selection");
    assert!(matches(&r, r#"{"eventName":"DeleteDetector"}"#));
    assert!(!matches(&r, r#"{"eventName":"deletedetector"}"#));
    let r = rule(
        "    selection:\n        userAgent|contains|cased: 'TruffleHog'\n    condition: selection",
    );
    assert!(matches(&r, r#"{"userAgent":"x TruffleHog y"}"#));
    assert!(!matches(&r, r#"{"userAgent":"x trufflehog y"}"#));
}

// "contains: Puts * wildcards around the values"; "startswith: The value is expected at the
// beginning of the field's content"; "endswith: … at the end".
#[test]
fn contains_startswith_endswith() {
    let c =
        rule("    selection:\n        userAgent|contains: 'S3 Browser'\n    condition: selection");
    assert!(matches(
        &c,
        r#"{"userAgent":"S3 Browser 9.5.5 https://s3browser.com"}"#
    ));
    assert!(matches(&c, r#"{"userAgent":"[s3 browser]"}"#));
    assert!(!matches(&c, r#"{"userAgent":"S3Browser"}"#));
    let s = rule(
        "    selection:\n        eventName|startswith: 'UpdateFunctionConfiguration'\n    condition: selection",
    );
    assert!(matches(
        &s,
        r#"{"eventName":"UpdateFunctionConfiguration20150331v2"}"#
    ));
    assert!(matches(
        &s,
        r#"{"eventName":"UpdateFunctionConfiguration"}"#
    ));
    assert!(!matches(
        &s,
        r#"{"eventName":"XUpdateFunctionConfiguration"}"#
    ));
    let e = rule(
        "    selection:\n        userIdentity.arn|endswith: ':root'\n    condition: selection",
    );
    assert!(matches(
        &e,
        r#"{"userIdentity":{"arn":"arn:aws:iam::111122223333:root"}}"#
    ));
    assert!(!matches(
        &e,
        r#"{"userIdentity":{"arn":"arn:aws:iam::111122223333:root/x"}}"#
    ));
}

// Wildcards: "*" any number of characters, "?" exactly one; "\" escapes them.
#[test]
fn wildcards_and_escapes() {
    let r = rule("    selection:\n        eventName: 'Get?ucket*'\n    condition: selection");
    assert!(matches(&r, r#"{"eventName":"GetBucketAcl"}"#));
    assert!(matches(&r, r#"{"eventName":"getbucket"}"#));
    assert!(!matches(&r, r#"{"eventName":"GetucketAcl"}"#));
    let r = rule("    selection:\n        errorMessage: 'a\\*b'\n    condition: selection");
    assert!(matches(&r, r#"{"errorMessage":"a*b"}"#));
    assert!(!matches(&r, r#"{"errorMessage":"axxb"}"#));
    // `contains: '*'` is "any value".
    let r = rule(
        "    selection:\n        requestParameters.layers|contains: '*'\n    condition: selection",
    );
    assert!(matches(
        &r,
        r#"{"requestParameters":{"layers":["arn:aws:lambda:us-east-1:1:layer:x:1"]}}"#
    ));
    assert!(!matches(&r, r#"{"requestParameters":{"layers":[]}}"#));
    assert!(!matches(&r, r#"{"requestParameters":{}}"#));
}

// "all: Normally, lists of values are linked with OR … This modifier changes this to AND."
#[test]
fn lists_are_or_and_all_makes_them_and() {
    let any = rule(
        "    selection:\n        eventName:\n            - StopLogging\n            - DeleteTrail\n    condition: selection",
    );
    assert!(matches(&any, r#"{"eventName":"StopLogging"}"#));
    assert!(matches(&any, r#"{"eventName":"DeleteTrail"}"#));
    assert!(!matches(&any, r#"{"eventName":"UpdateTrail"}"#));
    let all = rule(
        "    selection:\n        requestParameters|contains|all:\n            - '\"s3:GetObject\"'\n            - '\"Allow\"'\n    condition: selection",
    );
    let both = r#"{"requestParameters":{"policyDocument":"{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\"]}"}}"#;
    let one = r#"{"requestParameters":{"policyDocument":"{\"Effect\":\"Deny\",\"Action\":[\"s3:GetObject\"]}"}}"#;
    assert!(matches(&all, both));
    assert!(!matches(&all, one));
    let e = rule_with(
        "    selection:\n        eventName|all: x\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("'all' needs a list"), "{e}");
}

// "All elements of a map are joined with a logical AND"; "Lists of maps are joined with a
// logical OR".
#[test]
fn maps_are_and_lists_of_maps_are_or() {
    let r = rule(
        "    selection:\n        eventSource: sts.amazonaws.com\n        eventName: GetSessionToken\n    condition: selection",
    );
    assert!(matches(
        &r,
        r#"{"eventSource":"sts.amazonaws.com","eventName":"GetSessionToken"}"#
    ));
    assert!(!matches(
        &r,
        r#"{"eventSource":"iam.amazonaws.com","eventName":"GetSessionToken"}"#
    ));
    let r = rule(
        "    filter:\n        - eventSource: 'ssm.amazonaws.com'\n        - eventName: 'RegisterManagedInstance'\n    condition: filter",
    );
    assert!(matches(
        &r,
        r#"{"eventSource":"ssm.amazonaws.com","eventName":"X"}"#
    ));
    assert!(matches(
        &r,
        r#"{"eventSource":"x","eventName":"RegisterManagedInstance"}"#
    ));
    assert!(!matches(&r, r#"{"eventSource":"x","eventName":"y"}"#));
}

// "A null value is defined with null": the field is absent or null.
#[test]
fn null_is_absent_or_null() {
    let r = rule(
        "    selection:\n        eventName: DeleteBucket\n    ok:\n        errorCode: null\n    condition: selection and ok",
    );
    assert!(matches(&r, r#"{"eventName":"DeleteBucket"}"#));
    assert!(matches(
        &r,
        r#"{"eventName":"DeleteBucket","errorCode":null}"#
    ));
    assert!(!matches(
        &r,
        r#"{"eventName":"DeleteBucket","errorCode":"AccessDenied"}"#
    ));
    assert!(!matches(
        &r,
        r#"{"eventName":"DeleteBucket","errorCode":""}"#
    ));
    // "An empty value is defined with ''".
    let r = rule("    selection:\n        errorCode: ''\n    condition: selection");
    assert!(matches(&r, r#"{"errorCode":""}"#));
    assert!(!matches(&r, r#"{"errorCode":"x"}"#));
    assert!(!matches(&r, r#"{}"#));
}

// "exists: Defines that a certain field has to exist or must not exist".
#[test]
fn exists_true_and_false() {
    let yes = rule("    selection:\n        errorCode|exists: true\n    condition: selection");
    let no = rule("    selection:\n        errorCode|exists: false\n    condition: selection");
    for (event, present) in [
        (r#"{"errorCode":"AccessDenied"}"#, true),
        (r#"{"errorCode":null}"#, true),
        (r#"{"errorCode":{"a":1}}"#, true),
        (r#"{"eventName":"x"}"#, false),
    ] {
        assert_eq!(matches(&yes, event), present, "{event}");
        assert_eq!(matches(&no, event), !present, "{event}");
    }
    let e = rule_with(
        "    selection:\n        errorCode|exists: maybe\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("'exists' takes true or false"), "{e}");
}

// "re: Value is handled as a regular expression … matched case-sensitive by default"; i, m, s.
#[test]
fn regular_expressions_and_their_flags() {
    let r = rule(
        "    selection:\n        userIdentity.arn|re: '.+:assumed-role/aws:.+'\n    condition: selection",
    );
    assert!(matches(
        &r,
        r#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/aws:ec2-instance/i-1"}}"#
    ));
    assert!(!matches(
        &r,
        r#"{"userIdentity":{"arn":"arn:aws:sts::1:ASSUMED-ROLE/aws:ec2-instance/i-1"}}"#
    ));
    assert!(!matches(
        &r,
        r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"}}"#
    ));
    let i = rule("    selection:\n        userAgent|re|i: '^boto3'\n    condition: selection");
    assert!(matches(&i, r#"{"userAgent":"BOTO3/1.2"}"#));
    let plain = rule("    selection:\n        errorMessage|re: '^b'\n    condition: selection");
    let m = rule("    selection:\n        errorMessage|re|m: '^b'\n    condition: selection");
    assert!(!matches(&plain, r#"{"errorMessage":"a\nb"}"#));
    assert!(matches(&m, r#"{"errorMessage":"a\nb"}"#));
    let dot = rule("    selection:\n        errorMessage|re: 'a.b'\n    condition: selection");
    let s = rule("    selection:\n        errorMessage|re|s: 'a.b'\n    condition: selection");
    assert!(!matches(&dot, r#"{"errorMessage":"a\nb"}"#));
    assert!(matches(&s, r#"{"errorMessage":"a\nb"}"#));
    let e = rule_with(
        "    selection:\n        x|re: '(['\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        (e.line, e.construct.as_str()),
        (8, "detection.selection.x|re")
    );
    assert!(e.message.contains("invalid regular expression"), "{e}");
}

// "cidr: The value is handled as an CIDR".
#[test]
fn cidr_ranges() {
    let r = rule(
        "    selection:\n        sourceIPAddress|cidr:\n            - 10.0.0.0/8\n            - '2001:db8::/32'\n    condition: selection",
    );
    assert!(matches(&r, r#"{"sourceIPAddress":"10.1.2.3"}"#));
    assert!(matches(&r, r#"{"sourceIPAddress":"2001:db8::1"}"#));
    assert!(!matches(&r, r#"{"sourceIPAddress":"11.0.0.1"}"#));
    assert!(!matches(&r, r#"{"sourceIPAddress":"AWS Internal"}"#));
    assert!(!matches(&r, r#"{"sourceIPAddress":"ec2.amazonaws.com"}"#));
    let e = rule_with(
        "    selection:\n        sourceIPAddress|cidr: 10.0.0.0/33\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("not an IP network"), "{e}");
}

// "lt: Field is less than the value", lte, gt, gte.
#[test]
fn numeric_comparisons() {
    let lt = rule("    selection:\n        count|lt: 10\n    condition: selection");
    let lte = rule("    selection:\n        count|lte: 10\n    condition: selection");
    let gt = rule("    selection:\n        count|gt: 10\n    condition: selection");
    let gte = rule("    selection:\n        count|gte: 10\n    condition: selection");
    for (v, l, le, g, ge) in [
        ("9", true, true, false, false),
        ("10", false, true, false, true),
        ("10.5", false, false, true, true),
        ("\"11\"", false, false, true, true),
        ("\"x\"", false, false, false, false),
    ] {
        let event = format!(r#"{{"count":{v}}}"#);
        assert_eq!(matches(&lt, &event), l, "lt {v}");
        assert_eq!(matches(&lte, &event), le, "lte {v}");
        assert_eq!(matches(&gt, &event), g, "gt {v}");
        assert_eq!(matches(&gte, &event), ge, "gte {v}");
    }
    let e = rule_with(
        "    selection:\n        count|gt: many\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("take a number"), "{e}");
}

// Numbers and booleans: a number matches the number or a string spelling it; a boolean value
// matches the boolean or its text.
#[test]
fn numbers_and_booleans() {
    let n = rule("    selection:\n        code: 404\n    condition: selection");
    assert!(matches(&n, r#"{"code":404}"#));
    assert!(matches(&n, r#"{"code":404.0}"#));
    assert!(matches(&n, r#"{"code":"404"}"#));
    assert!(!matches(&n, r#"{"code":4040}"#));
    let b =
        rule("    selection:\n        requestParameters.enable: 'false'\n    condition: selection");
    assert!(matches(&b, r#"{"requestParameters":{"enable":false}}"#));
    assert!(matches(&b, r#"{"requestParameters":{"enable":"False"}}"#));
    assert!(!matches(&b, r#"{"requestParameters":{"enable":true}}"#));
    let b = rule("    selection:\n        readOnly: true\n    condition: selection");
    assert!(matches(&b, r#"{"readOnly":true}"#));
    assert!(!matches(&b, r#"{"readOnly":false}"#));
}

// "base64: The value is encoded with Base64"; "base64offset" with its three shifts; utf16le.
#[test]
fn base64_and_base64offset() {
    let b = rule("    selection:\n        data|base64: 'hello'\n    condition: selection");
    assert!(matches(&b, r#"{"data":"aGVsbG8="}"#));
    assert!(!matches(&b, r#"{"data":"hello"}"#));
    let o = rule(
        "    selection:\n        data|base64offset|contains: '/bin/bash'\n    condition: selection",
    );
    for prefix in ["", "x", "xy", "xyz"] {
        let encoded = base64_encode(format!("{prefix}/bin/bash -c id").as_bytes());
        assert!(
            matches(&o, &format!(r#"{{"data":"{encoded}"}}"#)),
            "offset {prefix:?}: {encoded}"
        );
    }
    assert!(!matches(
        &o,
        &format!(r#"{{"data":"{}"}}"#, base64_encode(b"/bin/sh -c id"))
    ));
    let w = rule("    selection:\n        data|wide|base64: 'cmd'\n    condition: selection");
    assert!(matches(
        &w,
        &format!(r#"{{"data":"{}"}}"#, base64_encode(b"c\0m\0d\0"))
    ));
    let e = rule_with(
        "    selection:\n        data|base64offset: 'x'\n    condition: selection",
        &SigmaOptions::default(),
    )
    .unwrap_err();
    assert!(e.message.contains("needs 'contains'"), "{e}");
}

fn base64_encode(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// "fieldref: Modifies a plain string into a field reference … compare fields of matched events".
#[test]
fn field_references() {
    let r = rule(
        "    selection:\n        eventName: UpdateLoginProfile\n    filter:\n        userIdentity.userName|fieldref: requestParameters.userName\n    condition: selection and not filter",
    );
    assert!(matches(
        &r,
        r#"{"eventName":"UpdateLoginProfile","userIdentity":{"userName":"alice"},"requestParameters":{"userName":"bob"}}"#
    ));
    assert!(!matches(
        &r,
        r#"{"eventName":"UpdateLoginProfile","userIdentity":{"userName":"alice"},"requestParameters":{"userName":"Alice"}}"#
    ));
    let c = rule(
        "    selection:\n        userIdentity.arn|fieldref|endswith: requestParameters.userName\n    condition: selection",
    );
    assert!(matches(
        &c,
        r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"},"requestParameters":{"userName":"alice"}}"#
    ));
    assert!(!matches(
        &c,
        r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"},"requestParameters":{"userName":"bob"}}"#
    ));
    assert!(!matches(
        &c,
        r#"{"userIdentity":{"arn":"arn:aws:iam::1:user/alice"}}"#
    ));
}

// Conditions: and, or, not, parentheses, "1 of", "all of", "them".
#[test]
fn conditions() {
    let d = "    sel_a:\n        a: 1\n    sel_b:\n        b: 1\n    filter:\n        c: 1\n    _private:\n        d: 1\n";
    let truth =
        |cond: &str, event: &str| matches(&rule(&format!("{d}    condition: {cond}")), event);
    let ab = r#"{"a":1,"b":1}"#;
    let a = r#"{"a":1}"#;
    let ac = r#"{"a":1,"c":1}"#;
    let none = r#"{"z":1}"#;
    assert!(truth("sel_a and sel_b", ab));
    assert!(!truth("sel_a and sel_b", a));
    assert!(truth("sel_a or sel_b", a));
    assert!(!truth("sel_a or sel_b", none));
    assert!(truth("sel_a and not filter", a));
    assert!(!truth("sel_a and not filter", ac));
    assert!(truth("not (sel_a and filter)", a));
    assert!(!truth("not (sel_a and filter)", ac));
    assert!(truth("not sel_b and (sel_a or filter)", ac));
    assert!(truth("1 of sel_*", a));
    assert!(!truth("all of sel_*", a));
    assert!(truth("all of sel_*", ab));
    assert!(truth("1 of them", r#"{"c":1}"#));
    // `them` leaves out `_private`.
    assert!(!truth("1 of them", r#"{"d":1}"#));
    assert!(!truth("all of them", ab));
    assert!(truth("all of them", r#"{"a":1,"b":1,"c":1}"#));
    assert!(truth("sel_a and not 1 of filter*", a));
    // A list of conditions is ORed.
    let r = rule(&format!(
        "{d}    condition:\n        - sel_b\n        - filter"
    ));
    assert!(matches(&r, r#"{"c":1}"#));
    assert!(!matches(&r, a));
}

// Keywords: "searching for keywords across an entire event"; "'|all':" makes them AND.
#[test]
fn keyword_searches() {
    let r = rule(
        "    keywords:\n        - 'TruffleHog'\n        - 'S3 Browser'\n    condition: keywords",
    );
    assert!(matches(&r, r#"{"userAgent":"trufflehog"}"#));
    assert!(matches(&r, r#"{"a":{"b":["x","S3 Browser"]}}"#));
    assert!(!matches(&r, r#"{"TruffleHog":1}"#), "keys are not searched");
    assert!(!matches(&r, r#"{"userAgent":"aws-cli"}"#));
    let contains = rule("    keywords:\n        - '*assumed-role*'\n    condition: keywords");
    assert!(matches(
        &contains,
        r#"{"userIdentity":{"arn":"arn:aws:sts::1:assumed-role/x"}}"#
    ));
    let all = rule(
        "    keywords:\n        '|all':\n            - 'alpha'\n            - 'beta'\n    condition: keywords",
    );
    assert!(matches(&all, r#"{"x":"alpha","y":"beta"}"#));
    assert!(!matches(&all, r#"{"x":"alpha"}"#));
}

// Dotted names reach into nested objects and any element of an array on the way.
#[test]
fn dotted_fields_and_arrays() {
    let r = rule(
        "    selection:\n        requestParameters.containerDefinitions.command|contains: '$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'\n    condition: selection",
    );
    assert!(matches(
        &r,
        r#"{"requestParameters":{"containerDefinitions":[{"command":["sh"]},{"command":["sh","-c","curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]}]}}"#
    ));
    assert!(!matches(
        &r,
        r#"{"requestParameters":{"containerDefinitions":[{"command":["sh","-c","id"]}]}}"#
    ));
    let r =
        rule("    selection:\n        additionalEventData.MFAUsed: 'NO'\n    condition: selection");
    assert!(matches(&r, r#"{"additionalEventData":{"MFAUsed":"No"}}"#));
    assert!(!matches(&r, r#"{"MFAUsed":"No"}"#));
    // Search inside an object: a string test on an object tests every scalar in it.
    let r = rule(
        "    selection:\n        responseElements|contains: 'Failure'\n    condition: selection",
    );
    assert!(matches(
        &r,
        r#"{"responseElements":{"exportTask":{"state":"failure"}}}"#
    ));
    assert!(!matches(
        &r,
        r#"{"responseElements":{"exportTask":{"state":"active"}}}"#
    ));
}

// Placeholders: "%name%" with `expand`; values come from the options.
#[test]
fn placeholders_expand() {
    let d = "    selection:\n        eventName: ConsoleLogin\n    filter:\n        sourceIPAddress|expand: '%office%'\n    condition: selection and not filter";
    let mut options = SigmaOptions::default();
    options.placeholders.insert(
        "office".into(),
        vec!["198.51.100.*".into(), "203.0.113.7".into()],
    );
    let r = rule_with(d, &options).unwrap();
    assert!(r.warnings.is_empty());
    assert!(!matches(
        &r,
        r#"{"eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.20"}"#
    ));
    assert!(matches(
        &r,
        r#"{"eventName":"ConsoleLogin","sourceIPAddress":"192.0.2.1"}"#
    ));
    // Without values the placeholder matches nothing, and the rule says so.
    let r = rule_with(d, &SigmaOptions::default()).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("%office%"), "{:?}", r.warnings);
    assert!(matches(
        &r,
        r#"{"eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.20"}"#
    ));
}

// windash: "-" and "/" (and the Unicode dashes) at the start of a word are interchangeable.
#[test]
fn windash() {
    let r =
        rule("    selection:\n        cmd|windash|contains: ' -enc '\n    condition: selection");
    assert!(matches(&r, r#"{"cmd":"powershell -enc AAA"}"#));
    assert!(matches(&r, r#"{"cmd":"powershell /enc AAA"}"#));
    assert!(!matches(&r, r#"{"cmd":"powershell +enc AAA"}"#));
}

#[test]
fn explain_names_the_deciding_selection() {
    let r = rule(
        "    selection:\n        eventName: ConsoleLogin\n    filter_main:\n        - sourceIPAddress: 'AWS Internal'\n    condition: selection and not 1 of filter_main*",
    );
    let why = explain(
        &r,
        r#"{"eventName":"ConsoleLogin","sourceIPAddress":"AWS Internal"}"#,
    );
    assert_eq!(
        why,
        r#"not selection 'filter_main' (line 10): sourceIPAddress: 'AWS Internal' holds (sourceIPAddress is "AWS Internal")"#
    );
    let why = explain(&r, r#"{"eventName":"GetObject"}"#);
    assert_eq!(
        why,
        r#"selection 'selection' (line 8): eventName: 'ConsoleLogin' does not hold (eventName is "GetObject")"#
    );
}

#[test]
fn errors_name_line_and_construct() {
    let bad = |detection: &str| rule_with(detection, &SigmaOptions::default()).unwrap_err();
    let e = bad("    selection:\n        eventName|startwith: x\n    condition: selection");
    assert_eq!((e.line, e.column), (8, 9));
    assert_eq!(e.construct, "detection.selection.eventName|startwith");
    assert!(e.message.contains("unknown modifier 'startwith'"), "{e}");
    let e = bad("    selection:\n        eventName: x\n    condition: selection and filter");
    assert_eq!(e.line, 9);
    assert_eq!(e.construct, "detection.condition");
    assert!(
        e.message.contains("unknown search identifier 'filter'"),
        "{e}"
    );
    let e = bad("    selection:\n        eventName: x\n");
    assert!(e.message.contains("no condition"), "{e}");
    let e = bad("    selection:\n        eventName: [x\n    condition: selection");
    assert_eq!(e.construct, "YAML");
    let e =
        bad("    selection:\n        eventName|contains|startswith: x\n    condition: selection");
    assert!(e.message.contains("cannot be combined"), "{e}");
    let e = bad("    selection:\n        eventName:\n            a: b\n    condition: selection");
    assert!(e.message.contains("found a map"), "{e}");
    let e = bad(
        "    selection:\n        eventName: x\n    timeframe: 5m\n    condition: selection | count() > 5",
    );
    assert!(e.message.contains("aggregations"), "{e}");
    let e = SigmaRule::parse("title: x\nlogsource: {product: aws}\ndetection:\n  s: {a: 1}\n  condition: s\nlevel: severe\n", &SigmaOptions::default()).unwrap_err();
    assert_eq!((e.line, e.construct.as_str()), (6, "level"));
}

#[test]
fn logsource_and_metadata() {
    let r = rule("    selection:\n        a: 1\n    condition: selection");
    assert!(r.is_cloudtrail());
    assert_eq!(r.level.as_deref(), Some("high"));
    assert_eq!(r.filter().name(), "00000000-0000-0000-0000-000000000000");
    let other = SigmaRule::parse("title: x\nlogsource: {product: windows, service: security}\ndetection:\n  s: {EventID: 4624}\n  condition: s\n", &SigmaOptions::default()).unwrap();
    assert!(!other.is_cloudtrail());
}
