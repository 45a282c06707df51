//! The trail's public keys, loaded from files (DER, PEM, or `aws cloudtrail list-public-keys`
//! JSON) and looked up by fingerprint: the MD5 of the key's DER bytes, as CloudTrail writes it in
//! `digestPublicKeyFingerprint`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use md5::{Digest as _, Md5};
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use serde::Deserialize;

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The failure.
        error: std::io::Error,
    },
    /// The file is none of the accepted forms, or a key in it does not parse.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One public key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// Lowercase hex fingerprint.
    pub fingerprint: String,
    /// The key.
    pub key: RsaPublicKey,
    /// The file it came from.
    pub source: PathBuf,
}

/// Keys by fingerprint.
#[derive(Debug, Default)]
pub struct PublicKeys {
    by_fingerprint: BTreeMap<String, PublicKey>,
}

/// `aws cloudtrail list-public-keys` output.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListPublicKeys {
    public_key_list: Vec<ListedKey>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedKey {
    /// Base64 of the DER key.
    value: String,
    fingerprint: Option<String>,
}

impl PublicKeys {
    /// Loads every key in each file.
    pub fn load(paths: &[PathBuf]) -> Result<PublicKeys, KeyError> {
        let mut keys = PublicKeys::default();
        for path in paths {
            let bytes = std::fs::read(path).map_err(|error| KeyError::Read {
                path: path.clone(),
                error,
            })?;
            for key in parse_file(path, &bytes)? {
                keys.by_fingerprint.insert(key.fingerprint.clone(), key);
            }
        }
        Ok(keys)
    }

    /// The key with this fingerprint (case-insensitive).
    pub fn get(&self, fingerprint: &str) -> Option<&PublicKey> {
        self.by_fingerprint.get(&fingerprint.to_ascii_lowercase())
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.by_fingerprint.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_fingerprint.is_empty()
    }

    /// The fingerprints, sorted.
    pub fn fingerprints(&self) -> impl Iterator<Item = &str> {
        self.by_fingerprint.keys().map(String::as_str)
    }
}

/// The MD5 fingerprint of DER bytes, lowercase hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// Recognises the file's form by its first non-blank byte: `{` JSON, `-` PEM, else DER.
fn parse_file(path: &Path, bytes: &[u8]) -> Result<Vec<PublicKey>, KeyError> {
    let format = |message: String| KeyError::Format {
        path: path.to_owned(),
        message,
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => Err(format("the file is empty".into())),
        Some(b'{') => {
            let list: ListPublicKeys = serde_json::from_slice(bytes).map_err(|e| {
                format(format!(
                    "not the JSON of `aws cloudtrail list-public-keys` (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                ))
            })?;
            let mut keys = Vec::with_capacity(list.public_key_list.len());
            for (i, listed) in list.public_key_list.iter().enumerate() {
                let der = base64::engine::general_purpose::STANDARD
                    .decode(listed.value.trim())
                    .map_err(|e| format(format!("PublicKeyList[{i}].Value is not base64: {e}")))?;
                let computed = fingerprint(&der);
                if let Some(given) = &listed.fingerprint {
                    if !given.eq_ignore_ascii_case(&computed) {
                        return Err(format(format!(
                            "PublicKeyList[{i}]: Fingerprint {given} is not the MD5 of its Value ({computed})"
                        )));
                    }
                }
                let key = parse_der(&der)
                    .map_err(|e| format(format!("PublicKeyList[{i}].Value: {e}")))?;
                keys.push(PublicKey {
                    fingerprint: computed,
                    key,
                    source: path.to_owned(),
                });
            }
            if keys.is_empty() {
                return Err(format("PublicKeyList is empty".into()));
            }
            Ok(keys)
        }
        Some(b'-') => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| format("a PEM file must be text (UTF-8)".into()))?;
            let blocks = pem::parse_many(text).map_err(|e| format(format!("invalid PEM: {e}")))?;
            let mut keys = Vec::new();
            for block in blocks {
                match block.tag() {
                    "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                        let key = parse_der(block.contents())
                            .map_err(|e| format(format!("{} block: {e}", block.tag())))?;
                        keys.push(PublicKey {
                            fingerprint: fingerprint(block.contents()),
                            key,
                            source: path.to_owned(),
                        });
                    }
                    other => {
                        return Err(format(format!(
                            "PEM block '{other}' is not a public key (expected PUBLIC KEY or RSA PUBLIC KEY)"
                        )));
                    }
                }
            }
            if keys.is_empty() {
                return Err(format("no PEM block found".into()));
            }
            Ok(keys)
        }
        Some(_) => {
            let key = parse_der(bytes).map_err(format)?;
            Ok(vec![PublicKey {
                fingerprint: fingerprint(bytes),
                key,
                source: path.to_owned(),
            }])
        }
    }
}

/// Parses a DER RSA public key: PKCS#1 `RSAPublicKey` (what the docs say ListPublicKeys returns)
/// or X.509 `SubjectPublicKeyInfo` (what one documented example is).
fn parse_der(der: &[u8]) -> Result<RsaPublicKey, String> {
    RsaPublicKey::from_pkcs1_der(der)
        .or_else(|_| RsaPublicKey::from_public_key_der(der))
        .map_err(|e| format!("not a DER RSA public key (PKCS#1 or SubjectPublicKeyInfo): {e}"))
}
