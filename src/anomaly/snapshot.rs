//! The state file: the detector's learned state in a versioned, checksummed binary form,
//! written atomically (a temporary file beside it, fsynced, renamed over it, the folder
//! fsynced), so a crash at any moment leaves the previous snapshot or the new one, never a
//! torn file. Error-burst windows (minutes long) are not kept.
//!
//! Layout (little-endian): magic, version `u32`, then principals (least recently seen first),
//! the newest minute, rate keys, names of running rate anomalies, and a CRC-32 of all before it.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::detector::Detector;
use super::rate::{RateState, Series};
use super::record::RateLabels;

const MAGIC: &[u8; 20] = b"trailwatch-anomalies";
/// The version this build writes and reads.
pub const VERSION: u32 = 1;

/// Why a state file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// It could not be read or written.
    #[error("anomaly state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a state file.
    #[error("{path} is not a trailwatch anomaly state file")]
    NotState {
        /// The file.
        path: PathBuf,
    },
    /// Written by another version.
    #[error(
        "{path} is an anomaly state file of version {found}; this trailwatch reads version {VERSION} \
         only. Move it away to start learning again, or rebuild it with `trailwatch learn`"
    )]
    Version {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u32,
    },
    /// Truncated or corrupted.
    #[error("{path} is damaged ({what}); move it away to start learning again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: &'static str,
    },
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
        self.u16(b.len() as u16);
        self.0.extend_from_slice(b);
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.arr().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.arr().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.arr().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.arr().map(i64::from_le_bytes)
    }
    fn f64(&mut self) -> Option<f64> {
        self.arr().map(f64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        Some(String::from_utf8_lossy(self.take(n)?).into_owned())
    }
}

/// The detector's state, encoded.
pub fn encode(d: &Detector) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(d.principals.used_bytes() + 4096));
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u64(d.principals.len() as u64);
    d.principals.export(|e, values| {
        w.u64(e.key);
        w.u32(e.first_s);
        w.u32(e.events);
        w.u8(e.saturated);
        w.u32(e.api_grew_s);
        w.u16(values.len() as u16);
        for &v in values {
            w.u32(v);
        }
    });
    w.i64(d.newest_minute);
    w.u64(d.rates.keys.len() as u64);
    for (key, st) in &d.rates.keys {
        w.u64(*key);
        w.i64(st.minute);
        w.i64(st.first_minute);
        for s in &st.series {
            w.u32(s.count);
            w.f64(s.baseline);
            match s.active {
                Some((since, total)) => {
                    w.u8(1);
                    w.i64(since);
                    w.u64(total);
                }
                None => w.u8(0),
            }
        }
    }
    w.u64(d.rates.active.len() as u64);
    for key in &d.rates.active {
        w.u64(*key);
    }
    w.u64(d.rate_labels.len() as u64);
    for (key, l) in &d.rate_labels {
        w.u64(*key);
        w.str(&l.account);
        w.str(&l.event_source);
        w.str(&l.event_name);
        w.str(&l.region);
    }
    let crc = crc32fast::hash(&w.0);
    w.u32(crc);
    w.0
}

/// Restores `bytes` (read from `path`, named in errors) into `d`, which must be new.
pub fn decode(bytes: &[u8], path: &Path, d: &mut Detector) -> Result<(), StateError> {
    let damaged = |what| StateError::Damaged {
        path: path.to_owned(),
        what,
    };
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(StateError::NotState {
            path: path.to_owned(),
        });
    }
    let mut r = Reader {
        b: bytes,
        at: MAGIC.len(),
    };
    let version = r.u32().ok_or_else(|| damaged("no version"))?;
    if version != VERSION {
        return Err(StateError::Version {
            path: path.to_owned(),
            found: version,
        });
    }
    let body = bytes
        .len()
        .checked_sub(4)
        .ok_or_else(|| damaged("truncated"))?;
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[body..]);
    if crc32fast::hash(&bytes[..body]) != u32::from_le_bytes(crc) {
        return Err(damaged("checksum mismatch: truncated or modified"));
    }
    r.b = &bytes[..body];
    read_body(&mut r, d).ok_or_else(|| damaged("truncated record"))?;
    if r.at != body {
        return Err(damaged("unexpected bytes after the state"));
    }
    Ok(())
}

fn read_body(r: &mut Reader<'_>, d: &mut Detector) -> Option<()> {
    let principals = r.u64()?;
    let mut values = Vec::new();
    for _ in 0..principals {
        let e = super::principals::Exported {
            key: r.u64()?,
            first_s: r.u32()?,
            events: r.u32()?,
            saturated: r.u8()?,
            api_grew_s: r.u32()?,
        };
        let n = r.u16()? as usize;
        values.clear();
        for _ in 0..n {
            values.push(r.u32()?);
        }
        d.principals.import(&e, &values);
    }
    d.newest_minute = r.i64()?;
    let keys = r.u64()?;
    for _ in 0..keys {
        let key = r.u64()?;
        let (minute, first_minute) = (r.i64()?, r.i64()?);
        let mut series = [Series::default(); 2];
        for s in &mut series {
            s.count = r.u32()?;
            s.baseline = r.f64()?;
            s.active = match r.u8()? {
                0 => None,
                _ => Some((r.i64()?, r.u64()?)),
            };
        }
        if d.rates.keys.len() < super::rate::MAX_KEYS {
            d.rates.keys.insert(
                key,
                RateState {
                    minute,
                    first_minute,
                    series,
                },
            );
        }
    }
    let active = r.u64()?;
    for _ in 0..active {
        d.rates.active.push(r.u64()?);
    }
    let labels = r.u64()?;
    for _ in 0..labels {
        let key = r.u64()?;
        let l = RateLabels {
            account: r.str()?,
            event_source: r.str()?,
            event_name: r.str()?,
            region: r.str()?,
        };
        d.rate_labels.insert(key, l);
    }
    Some(())
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "anomalies.state".into());
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io)?;
    // The rename is durable once the folder is.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads `path` into `d`; `Ok(false)` when there is no such file yet.
pub fn load(path: &Path, d: &mut Detector) -> Result<bool, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes, path, d).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}
