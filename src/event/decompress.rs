//! Decompression with a hard output limit (a gzip bomb stops at the limit, not at the heap's end).

use std::io::{self, BufRead, Read};

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// gzip, including concatenated members (Firehose concatenates gzip payloads).
    Gzip,
    /// zlib ("deflate" in HTTP).
    Deflate,
    /// Zstandard.
    Zstd,
}

/// Why a body could not be decompressed.
#[derive(Debug, thiserror::Error)]
pub enum DecompressError {
    /// The output would exceed the limit.
    #[error("decompressed size exceeds {0} bytes")]
    TooLarge(usize),
    /// The input is not valid for its coding.
    #[error("invalid {coding:?} data: {message}")]
    Corrupt {
        /// The coding.
        coding: Coding,
        /// The decoder's message.
        message: String,
    },
}

/// Parses a `Content-Encoding` header: the codings in the order to undo them (the header lists
/// them in the order applied). `identity` is skipped; unknown codings are an error.
pub fn parse_content_encoding(header: &str) -> Result<Vec<Coding>, String> {
    let mut codings = Vec::new();
    for part in header.split(',') {
        match part.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => {}
            "gzip" | "x-gzip" => codings.push(Coding::Gzip),
            "deflate" => codings.push(Coding::Deflate),
            "zstd" => codings.push(Coding::Zstd),
            other => {
                return Err(format!(
                    "unsupported Content-Encoding '{other}' (use gzip, zstd or deflate)"
                ));
            }
        }
    }
    codings.reverse();
    Ok(codings)
}

/// Whether `b` starts with the gzip magic number.
pub fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

/// Whether `b` starts with the zstd magic number.
pub fn is_zstd(b: &[u8]) -> bool {
    b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
}

/// `input` with `coding` undone as it is read.
pub fn decoding<'a, R: Read + 'a>(input: R, coding: Coding) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(input)),
        Coding::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
    })
}

/// A stream decompressed as its magic number says (gzip, including concatenated members, or
/// zstd); any other stream is returned as it is. Only looks at buffered bytes, so nothing is
/// consumed from `input` to find out.
pub fn sniffed<'a, R: BufRead + 'a>(mut input: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = input.fill_buf()?;
    Ok(if is_gzip(head) {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else if is_zstd(head) {
        Box::new(zstd::stream::read::Decoder::with_buffer(input)?)
    } else {
        Box::new(input)
    })
}

/// Decompresses `input` into `out` (cleared first), failing past `limit` output bytes.
pub fn decompress(
    input: &[u8],
    coding: Coding,
    limit: usize,
    out: &mut Vec<u8>,
) -> Result<(), DecompressError> {
    out.clear();
    let corrupt = |e: std::io::Error| DecompressError::Corrupt {
        coding,
        message: e.to_string(),
    };
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(input)),
        Coding::Deflate => Box::new(flate2::read::ZlibDecoder::new(input)),
        Coding::Zstd => Box::new(zstd::stream::read::Decoder::new(input).map_err(corrupt)?),
    };
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    let mut limited = reader.take(limit as u64 + 1);
    limited.read_to_end(out).map_err(corrupt)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge(limit));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn round_trips_and_limits() {
        let mut out = Vec::new();
        decompress(&gzip(b"hello"), Coding::Gzip, 100, &mut out).unwrap();
        assert_eq!(out, b"hello");
        let mut two = gzip(b"a\n");
        two.extend(gzip(b"b\n"));
        decompress(&two, Coding::Gzip, 100, &mut out).unwrap();
        assert_eq!(out, b"a\nb\n");
        let bomb = gzip(&vec![b'x'; 1 << 20]);
        assert!(matches!(
            decompress(&bomb, Coding::Gzip, 1000, &mut out),
            Err(DecompressError::TooLarge(1000))
        ));
        assert!(matches!(
            decompress(b"not gzip", Coding::Gzip, 1000, &mut out),
            Err(DecompressError::Corrupt { .. })
        ));
        let z = zstd::encode_all(&b"zstd body"[..], 3).unwrap();
        decompress(&z, Coding::Zstd, 100, &mut out).unwrap();
        assert_eq!(out, b"zstd body");
    }

    #[test]
    fn content_encoding_header() {
        assert_eq!(parse_content_encoding("gzip"), Ok(vec![Coding::Gzip]));
        assert_eq!(parse_content_encoding("identity"), Ok(vec![]));
        assert_eq!(
            parse_content_encoding("deflate, gzip"),
            Ok(vec![Coding::Gzip, Coding::Deflate])
        );
        assert!(parse_content_encoding("br").is_err());
    }
}
