//! The Forward protocol's messages (Fluentd's protocol, spoken by the `forward` output of Fluent
//! Bit and Fluentd): which of the four modes a message is in, where its records are, its
//! options, and the handshake's messages.
//!
//! * Message: `[tag, time, record, option?]`
//! * Forward: `[tag, [[time, record], …], option?]`
//! * PackedForward: `[tag, bin(entry entry …), option?]`
//! * CompressedPackedForward: as PackedForward with `option.compressed = "gzip"`
//!
//! `time` may be `[time, metadata]` (Fluent Bit's event format 2). `option.chunk` asks for
//! `{"ack": chunk}` once the events are accepted. The handshake (when the server has a shared
//! key) is `HELO` from the server, `PING` from the client, `PONG` from the server; digests are
//! SHA-512 hex of `salt + hostname + nonce + shared_key`.

use std::ops::Range;

use sha2::{Digest, Sha512};

use super::msgpack::{
    MsgpackError, array_len, bytes_at, complete_end, entry_record, is_map, map_len, value_end,
};

/// Why a message is not one the protocol defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// Bad MessagePack.
    #[error(transparent)]
    Msgpack(#[from] MsgpackError),
    /// Well-formed MessagePack of another shape.
    #[error("not a Forward protocol message: {0}")]
    Shape(&'static str),
    /// A compression the protocol does not define.
    #[error("unsupported compression {0:?} (the protocol defines \"gzip\")")]
    Compression(String),
}

/// Where a message's records are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entries {
    /// Message and Forward modes: each record's range in the message.
    Records(Vec<Range<u32>>),
    /// PackedForward: the range of the message holding entries back to back.
    Packed(Range<usize>),
    /// CompressedPackedForward: the range holding gzip of entries back to back.
    Compressed(Range<usize>),
}

/// A message that carries events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events {
    /// Where the records are.
    pub entries: Entries,
    /// Entries of the wrong shape (Message and Forward modes), each rejected alone.
    pub rejected: Vec<MsgpackError>,
    /// `option.chunk`: the client waits for `{"ack": chunk}`.
    pub chunk: Option<Range<usize>>,
}

/// The client's `PING` (the handshake's second message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The client's hostname.
    pub hostname: Range<usize>,
    /// The client's salt for the shared-key digest.
    pub salt: Range<usize>,
    /// `sha512_hex(salt + hostname + nonce + shared_key)`.
    pub digest: Range<usize>,
}

/// One message from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Events, in any of the four modes.
    Events(Events),
    /// The handshake's `PING`.
    Ping(Ping),
}

/// Decodes one whole message.
pub fn decode(msg: &[u8]) -> Result<Message, ForwardError> {
    let Some((len, first)) = array_len(msg, 0) else {
        return Err(ForwardError::Shape("expected an array"));
    };
    let Some((head, second)) = bytes_at(msg, first) else {
        return Err(ForwardError::Shape("expected a tag (a string) first"));
    };
    if head == b"PING" && len == 6 {
        return ping(msg, second).map(Message::Ping);
    }
    if !(2..=4).contains(&len) {
        return Err(ForwardError::Shape("expected 2 to 4 elements"));
    }
    let after = complete_end(msg, second)?;
    if let Some((bytes, end)) = bytes_at(msg, second) {
        // PackedForward, compressed or not.
        let payload = end - bytes.len()..end;
        let options = if len >= 3 {
            options(msg, after)?
        } else {
            Options::default()
        };
        let entries = if options.compressed {
            Entries::Compressed(payload)
        } else {
            Entries::Packed(payload)
        };
        return Ok(Message::Events(Events {
            entries,
            rejected: Vec::new(),
            chunk: options.chunk,
        }));
    }
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    let option_at;
    if let Some((n, mut at)) = array_len(msg, second) {
        // Forward mode: an array of entries.
        for _ in 0..n {
            let end = complete_end(msg, at)?;
            match entry_record(msg, at..end) {
                Ok(r) => records.push(r.start as u32..r.end as u32),
                Err(e) => rejected.push(e),
            }
            at = end;
        }
        option_at = (len >= 3).then_some(at);
    } else {
        // Message mode: time, then the record.
        if len < 3 {
            return Err(ForwardError::Shape("expected [tag, time, record]"));
        }
        let record_end = complete_end(msg, after)?;
        if is_map(msg, after) {
            records.push(after as u32..record_end as u32);
        } else {
            rejected.push(MsgpackError::Shape(
                "the message's record is not a map (expected [tag, time, record])",
            ));
        }
        option_at = (len == 4).then_some(record_end);
    }
    let options = match option_at {
        Some(at) => options(msg, at)?,
        None => Options::default(),
    };
    Ok(Message::Events(Events {
        entries: Entries::Records(records),
        rejected,
        chunk: options.chunk,
    }))
}

#[derive(Debug, Default)]
struct Options {
    chunk: Option<Range<usize>>,
    compressed: bool,
}

/// Reads the option map at `at` (`nil` is accepted as no options).
fn options(msg: &[u8], at: usize) -> Result<Options, ForwardError> {
    let mut o = Options::default();
    if msg.get(at) == Some(&0xc0) {
        return Ok(o);
    }
    let Some((pairs, mut i)) = map_len(msg, at) else {
        return Err(ForwardError::Shape("the option is not a map"));
    };
    for _ in 0..pairs {
        let key = bytes_at(msg, i).map(|(k, _)| k);
        let value = complete_end(msg, i)?;
        let end = complete_end(msg, value)?;
        match key {
            Some(b"chunk") => {
                if let Some((c, e)) = bytes_at(msg, value) {
                    o.chunk = Some(e - c.len()..e);
                }
            }
            Some(b"compressed") => match bytes_at(msg, value) {
                Some((b"gzip", _)) => o.compressed = true,
                Some((b"text", _)) => {}
                other => {
                    let name = other.map_or("(not a string)".into(), |(c, _)| {
                        String::from_utf8_lossy(c).into_owned()
                    });
                    return Err(ForwardError::Compression(name));
                }
            },
            _ => {}
        }
        i = end;
    }
    Ok(o)
}

fn ping(msg: &[u8], mut at: usize) -> Result<Ping, ForwardError> {
    let mut field = |what: &'static str| -> Result<Range<usize>, ForwardError> {
        let Some((b, end)) = bytes_at(msg, at) else {
            return Err(ForwardError::Shape(what));
        };
        at = end;
        Ok(end - b.len()..end)
    };
    let hostname = field("PING: expected the client's hostname")?;
    let salt = field("PING: expected the shared key salt")?;
    let digest = field("PING: expected the shared key digest")?;
    Ok(Ping {
        hostname,
        salt,
        digest,
    })
}

/// The record ranges of entries packed back to back in `payload` (PackedForward), and the
/// entries of the wrong shape. Bad MessagePack ends the list: nothing after it can be found.
pub fn packed_records(payload: &[u8]) -> (Vec<Range<u32>>, Vec<MsgpackError>) {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    let mut at = 0;
    while at < payload.len() {
        let end = match value_end(payload, at) {
            Ok(Some(end)) => end,
            Ok(None) => {
                rejected.push(MsgpackError::Truncated);
                break;
            }
            Err(e) => {
                rejected.push(e);
                break;
            }
        };
        match entry_record(payload, at..end) {
            Ok(r) => records.push(r.start as u32..r.end as u32),
            Err(e) => rejected.push(e),
        }
        at = end;
    }
    (records, rejected)
}

/// `sha512_hex(salt + hostname + nonce + shared_key)`, the digest both sides of the handshake
/// prove they hold the shared key with.
pub fn shared_key_digest(salt: &[u8], hostname: &[u8], nonce: &[u8], key: &[u8]) -> String {
    let mut h = Sha512::new();
    for part in [salt, hostname, nonce, key] {
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// The server's `HELO`: `["HELO", {"nonce": nonce, "auth": "", "keepalive": true}]`.
pub fn helo(nonce: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_array_len(&mut out, 2).ok();
    rmp::encode::write_str(&mut out, "HELO").ok();
    rmp::encode::write_map_len(&mut out, 3).ok();
    rmp::encode::write_str(&mut out, "nonce").ok();
    rmp::encode::write_bin(&mut out, nonce).ok();
    rmp::encode::write_str(&mut out, "auth").ok();
    rmp::encode::write_bin(&mut out, b"").ok();
    rmp::encode::write_str(&mut out, "keepalive").ok();
    rmp::encode::write_bool(&mut out, true).ok();
    out
}

/// The server's `PONG`: `["PONG", ok, reason, hostname, digest]`.
pub fn pong(ok: bool, reason: &str, hostname: &str, digest: &str) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_array_len(&mut out, 5).ok();
    rmp::encode::write_str(&mut out, "PONG").ok();
    rmp::encode::write_bool(&mut out, ok).ok();
    rmp::encode::write_str(&mut out, reason).ok();
    rmp::encode::write_str(&mut out, hostname).ok();
    rmp::encode::write_str(&mut out, digest).ok();
    out
}

/// `{"ack": chunk}`.
pub fn ack(chunk: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    rmp::encode::write_map_len(&mut out, 1).ok();
    rmp::encode::write_str(&mut out, "ack").ok();
    rmp::encode::write_str_len(&mut out, chunk.len() as u32).ok();
    out.extend_from_slice(chunk);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pack(v: &serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec(v).unwrap()
    }

    fn records(msg: &[u8], e: &Events) -> Vec<String> {
        let (data, ranges) = match &e.entries {
            Entries::Records(r) => (msg.to_vec(), r.clone()),
            Entries::Packed(p) => {
                let payload = msg[p.clone()].to_vec();
                let (r, _) = packed_records(&payload);
                (payload, r)
            }
            Entries::Compressed(_) => panic!("compressed"),
        };
        ranges
            .iter()
            .map(|r| {
                let mut out = Vec::new();
                super::super::msgpack::to_json(&data[r.start as usize..r.end as usize], &mut out)
                    .unwrap();
                String::from_utf8(out).unwrap()
            })
            .collect()
    }

    fn events(msg: &[u8]) -> Events {
        match decode(msg).unwrap() {
            Message::Events(e) => e,
            Message::Ping(_) => panic!("ping"),
        }
    }

    #[test]
    fn the_four_modes() {
        let message = pack(&json!(["tag", 1_700_000_000, {"a": 1}, {"chunk": "c1"}]));
        let e = events(&message);
        assert_eq!(records(&message, &e), [r#"{"a":1}"#]);
        assert_eq!(&message[e.chunk.unwrap()], b"c1");

        let forward = pack(&json!(["tag", [[1, {"a": 1}], [[2, {}], {"b": 2}], [3, 4]]]));
        let e = events(&forward);
        assert_eq!(records(&forward, &e), [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(e.rejected.len(), 1);
        assert_eq!(e.chunk, None);

        let mut entries = pack(&json!([1, {"a": 1}]));
        entries.extend(pack(&json!([[2, {}], {"b": 2}])));
        let mut packed = vec![0x93];
        packed.extend(pack(&json!("tag")));
        rmp::encode::write_bin(&mut packed, &entries).unwrap();
        packed.extend(pack(&json!({"size": 2, "chunk": "xyz"})));
        let e = events(&packed);
        assert_eq!(records(&packed, &e), [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(&packed[e.chunk.unwrap()], b"xyz");

        let mut compressed = vec![0x93];
        compressed.extend(pack(&json!("tag")));
        rmp::encode::write_bin(&mut compressed, b"\x1f\x8b").unwrap();
        compressed.extend(pack(&json!({"compressed": "gzip"})));
        assert!(matches!(
            events(&compressed).entries,
            Entries::Compressed(_)
        ));
    }

    #[test]
    fn bad_messages_say_why() {
        for (msg, want) in [
            (pack(&json!({"a": 1})), "expected an array"),
            (pack(&json!([1, 2])), "expected a tag"),
            (pack(&json!(["t"])), "expected 2 to 4"),
            (pack(&json!(["t", 1])), "expected [tag, time, record]"),
            (
                pack(&json!(["t", "x", {"compressed": "lz4"}])),
                "unsupported compression",
            ),
        ] {
            let e = decode(&msg).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn handshake_digests_match_fluentd() {
        let ping = pack(&json!(["PING", "client", "salt", "digest", "", ""]));
        let Message::Ping(p) = decode(&ping).unwrap() else {
            panic!("not a ping")
        };
        assert_eq!(&ping[p.hostname], b"client");
        assert_eq!(&ping[p.salt], b"salt");
        // sha512("s" "h" "n" "k") — the concatenation, as Fluentd's in_forward computes it.
        assert_eq!(
            shared_key_digest(b"s", b"h", b"n", b"k"),
            hex::encode(Sha512::digest(b"shnk"))
        );
        assert_eq!(ack(b"c1"), pack(&json!({"ack": "c1"})));
    }
}
