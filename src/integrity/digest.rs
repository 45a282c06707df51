//! One digest file: reading it (gzip), its fields, the string CloudTrail signs, and the
//! SHA256withRSA check of a signature over it.

use std::io::Read;
use std::path::Path;

use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The largest inflated digest accepted (real ones are kilobytes; this stops a gzip bomb).
const MAX_DIGEST_BYTES: u64 = 256 << 20;

/// Keys a digest must have (a `null` value counts as present), as the AWS CLI requires.
const REQUIRED: [&str; 6] = [
    "digestPublicKeyFingerprint",
    "digestS3Bucket",
    "digestS3Object",
    "previousDigestSignature",
    "digestEndTime",
    "digestStartTime",
];

/// One entry of `logFiles`.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// `s3Bucket`
    pub bucket: String,
    /// `s3Object`
    pub key: String,
    /// `hashValue`, lowercase hex.
    pub hash: String,
}

/// A parsed digest.
#[derive(Debug, Clone)]
pub struct Digest {
    /// Lowercase hex SHA-256 of the inflated file, exactly as stored.
    pub sha256: String,
    /// `digestStartTime`
    pub start_time: String,
    /// `digestEndTime`, as written (it is signed as written).
    pub end_time: String,
    /// `digestS3Bucket`
    pub bucket: String,
    /// `digestS3Object`
    pub key: String,
    /// `digestPublicKeyFingerprint`
    pub fingerprint: String,
    /// `digestSignatureAlgorithm`
    pub signature_algorithm: Option<String>,
    /// `awsAccountId`
    pub account: Option<String>,
    /// `previousDigestS3Bucket` (null in a chain's first digest).
    pub previous_bucket: Option<String>,
    /// `previousDigestS3Object`
    pub previous_key: Option<String>,
    /// `previousDigestHashValue`
    pub previous_hash: Option<String>,
    /// `previousDigestSignature`
    pub previous_signature: Option<String>,
    /// `logFiles`
    pub log_files: Vec<LogEntry>,
}

/// Why a digest file is unusable ("invalid format").
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    /// The file cannot be opened.
    #[error("cannot open: {0}")]
    Open(std::io::Error),
    /// Not gzip, or corrupt.
    #[error("invalid format: cannot decompress: {0}")]
    Gzip(std::io::Error),
    /// Not the JSON of a digest.
    #[error("invalid format: {0}")]
    Json(String),
}

impl Digest {
    /// Reads and parses the digest file at `path`.
    pub fn read(path: &Path) -> Result<Digest, DigestError> {
        let file = std::fs::File::open(path).map_err(DigestError::Open)?;
        let mut inflated = Vec::new();
        flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file))
            .take(MAX_DIGEST_BYTES + 1)
            .read_to_end(&mut inflated)
            .map_err(DigestError::Gzip)?;
        if inflated.len() as u64 > MAX_DIGEST_BYTES {
            return Err(DigestError::Json(format!(
                "larger than {MAX_DIGEST_BYTES} bytes inflated"
            )));
        }
        Digest::parse(&inflated)
    }

    /// Parses an inflated digest.
    pub fn parse(inflated: &[u8]) -> Result<Digest, DigestError> {
        let value: Value = serde_json::from_slice(inflated).map_err(|e| {
            DigestError::Json(format!(
                "not JSON (line {}, column {}): {e}",
                e.line(),
                e.column()
            ))
        })?;
        let Value::Object(map) = value else {
            return Err(DigestError::Json("not a JSON object".into()));
        };
        for key in REQUIRED {
            if !map.contains_key(key) {
                return Err(DigestError::Json(format!("the key '{key}' is missing")));
            }
        }
        let required = |key: &str| -> Result<String, DigestError> {
            opt_string(&map, key)?
                .ok_or_else(|| DigestError::Json(format!("'{key}' must be a string, not null")))
        };
        let mut log_files = Vec::new();
        match map.get("logFiles") {
            None | Some(Value::Null) => {}
            Some(Value::Array(entries)) => {
                for (i, entry) in entries.iter().enumerate() {
                    let Value::Object(e) = entry else {
                        return Err(DigestError::Json(format!("logFiles[{i}] is not an object")));
                    };
                    let field = |k: &str| {
                        opt_string(e, k)?.ok_or_else(|| {
                            DigestError::Json(format!("logFiles[{i}].{k} is missing or null"))
                        })
                    };
                    if let Some(alg) = opt_string(e, "hashAlgorithm")? {
                        if alg != "SHA-256" {
                            return Err(DigestError::Json(format!(
                                "logFiles[{i}].hashAlgorithm is '{alg}', expected SHA-256"
                            )));
                        }
                    }
                    log_files.push(LogEntry {
                        bucket: field("s3Bucket")?,
                        key: field("s3Object")?,
                        hash: field("hashValue")?.to_ascii_lowercase(),
                    });
                }
            }
            Some(_) => return Err(DigestError::Json("logFiles is not an array".into())),
        }
        Ok(Digest {
            sha256: hex::encode(Sha256::digest(inflated)),
            start_time: required("digestStartTime")?,
            end_time: required("digestEndTime")?,
            bucket: required("digestS3Bucket")?,
            key: required("digestS3Object")?,
            fingerprint: required("digestPublicKeyFingerprint")?,
            signature_algorithm: opt_string(&map, "digestSignatureAlgorithm")?,
            account: opt_string(&map, "awsAccountId")?,
            previous_bucket: opt_string(&map, "previousDigestS3Bucket")?,
            previous_key: opt_string(&map, "previousDigestS3Object")?,
            previous_hash: opt_string(&map, "previousDigestHashValue")?
                .map(|h| h.to_ascii_lowercase()),
            previous_signature: opt_string(&map, "previousDigestSignature")?,
            log_files,
        })
    }

    /// The string CloudTrail signs: end time, `bucket/key`, the file's SHA-256 and the previous
    /// signature (`null` in a chain's first digest), joined by `\n`.
    pub fn signing_string(&self) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.end_time,
            self.bucket,
            self.key,
            self.sha256,
            self.previous_signature.as_deref().unwrap_or("null")
        )
    }
}

fn opt_string(map: &Map<String, Value>, key: &str) -> Result<Option<String>, DigestError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DigestError::Json(format!("'{key}' is not a string"))),
    }
}

/// Checks a hex SHA256withRSA (RSASSA-PKCS1-v1_5) signature of `message`.
pub fn verify(key: &RsaPublicKey, message: &[u8], signature_hex: &str) -> bool {
    let Ok(bytes) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(message, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AWS documentation's example digest (a starting digest would have nulls).
    const DOC_EXAMPLE: &str = r#"{"awsAccountId":"111122223333","digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z","digestS3Bucket":"S3-bucket-name","digestS3Object":"AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz","digestPublicKeyFingerprint":"31e8b5433410dfb61a9dc45cc65b22ff","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[]}"#;

    #[test]
    fn signing_string_of_a_first_digest() {
        let d = Digest::parse(DOC_EXAMPLE.as_bytes()).unwrap();
        let s = d.signing_string();
        let lines: Vec<&str> = s.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "2015-08-17T15:01:31Z");
        assert!(lines[1].starts_with("S3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/"));
        assert_eq!(
            lines[2],
            hex::encode(Sha256::digest(DOC_EXAMPLE.as_bytes()))
        );
        assert_eq!(lines[3], "null");
        assert!(d.log_files.is_empty());
    }

    #[test]
    fn missing_keys_are_invalid_format() {
        let broken = DOC_EXAMPLE.replace("\"digestS3Bucket\"", "\"bucket\"");
        let e = Digest::parse(broken.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("digestS3Bucket"), "{e}");
        assert!(Digest::parse(b"[1]").is_err());
    }
}
