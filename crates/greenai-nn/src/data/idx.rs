//! The IDX format of MNIST and Fashion-MNIST: a magic number (two zero bytes, a type code, the
//! number of dimensions), the dimensions as big-endian `u32`s, then the data. Files may be gzip
//! compressed (recognised by their first bytes, whatever their name).

use crate::{NnError, Result};
use std::io::Read;
use std::path::Path;

/// An IDX array of unsigned bytes (type code 0x08), the only type MNIST-style data uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads an IDX file, raw or gzip.
pub fn read(path: &Path) -> Result<IdxArray> {
    let p = path.display().to_string();
    let raw = std::fs::read(path).map_err(|e| NnError::Unavailable {
        path: p.clone(),
        reason: e.to_string(),
    })?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        gunzip_bounded(&p, &raw)?
    } else {
        raw
    };
    parse(&p, &bytes)
}

/// The largest IDX body greenai reads (4 GiB: ImageNet-sized sets are not IDX files).
pub const MAX_IDX_BYTES: usize = 1 << 32;

/// A gzip-compressed IDX file, decompressed only as far as its header says it reaches (and one
/// byte more, so that trailing data is still noticed): a small file that claims little but
/// expands into gigabytes is refused at its claim, not after the allocation.
fn gunzip_bounded(p: &str, raw: &[u8]) -> Result<Vec<u8>> {
    let damaged = |e: std::io::Error| NnError::Malformed {
        path: p.to_string(),
        reason: format!("gzip stream is damaged or ends early ({e})"),
    };
    let mut d = flate2::read::GzDecoder::new(raw);
    let mut out = vec![0u8; 4];
    d.read_exact(&mut out).map_err(damaged)?;
    if out[..3] != [0, 0, 0x08] || out[3] == 0 {
        // Not an IDX header: parse says what is wrong with it.
        return Ok(out);
    }
    let ndim = out[3] as usize;
    out.resize(4 + 4 * ndim, 0);
    d.read_exact(&mut out[4..]).map_err(damaged)?;
    let declared = out[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().expect("4 bytes")) as usize)
        .try_fold(1usize, |a, d| a.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| NnError::Malformed {
            path: p.to_string(),
            reason: format!(
                "its header declares more than {MAX_IDX_BYTES} bytes of data; greenai reads IDX \
                 sets up to 4 GiB"
            ),
        })?;
    out.reserve(declared.min(1 << 28));
    d.take(declared as u64 + 1)
        .read_to_end(&mut out)
        .map_err(damaged)?;
    Ok(out)
}

/// Parses IDX bytes; `name` is used in errors.
pub fn parse(name: &str, bytes: &[u8]) -> Result<IdxArray> {
    let bad = |reason: String| NnError::Malformed {
        path: name.to_string(),
        reason,
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad(format!(
            "bad magic number {:02x?}: not an IDX file (IDX files start 00 00 08 NN)",
            &bytes[..bytes.len().min(4)]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(bad(format!(
            "IDX type code 0x{:02x} is not supported; greenai reads unsigned bytes (0x08)",
            bytes[2]
        )));
    }
    let ndim = bytes[3] as usize;
    if ndim == 0 {
        return Err(bad("an IDX file with no dimensions".into()));
    }
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad(format!(
            "truncated header: {} bytes, {header} needed",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let body = bytes.len() - header;
    if body < expected {
        return Err(bad(format!(
            "truncated: dimensions {dims:?} need {expected} bytes of data, the file has {body}"
        )));
    }
    if body > expected {
        return Err(bad(format!(
            "{} bytes after the data that dimensions {dims:?} describe",
            body - expected
        )));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// IDX bytes for an array: the inverse of [`parse`] (for tests and for writing subsets).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A few hundred bytes of gzip that claim a 10-image file but expand into 64 MiB: refused
    /// after reading one byte past the claim, with the file's own words.
    #[test]
    fn a_gzip_bomb_is_read_only_as_far_as_its_header_claims() {
        use std::io::Write;
        let mut body = encode(&[10, 2, 2], &[7; 40]);
        body.resize(64 << 20, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&body).unwrap();
        let raw = gz.finish().unwrap();
        assert!(raw.len() < 200_000, "{}", raw.len());
        let bytes = gunzip_bounded("bomb", &raw).unwrap();
        assert_eq!(
            bytes.len(),
            4 + 12 + 40 + 1,
            "stopped one byte past the claim"
        );
        let e = parse("bomb", &bytes).unwrap_err().to_string();
        assert!(e.contains("after the data"), "{e}");
        // A header that claims the impossible is refused before reading on.
        let mut huge = vec![0, 0, 8, 3];
        for d in [u32::MAX, u32::MAX, 2] {
            huge.extend(d.to_be_bytes());
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&huge).unwrap();
        let e = gunzip_bounded("huge", &gz.finish().unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("declares more than"), "{e}");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = parse("x", b"PK\x03\x04zip").unwrap_err().to_string();
        assert!(
            e.contains("bad magic number") && e.contains("not an IDX file"),
            "{e}"
        );
        let e = parse("x", &[0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("type code 0x0d"), "{e}");
        let mut v = encode(&[3, 2], &[1, 2, 3, 4, 5, 6]);
        v.truncate(v.len() - 2);
        let e = parse("x", &v).unwrap_err().to_string();
        assert!(
            e.contains("truncated") && e.contains("need 6 bytes") && e.contains("has 4"),
            "{e}"
        );
        let e = parse("x", &[0, 0, 8, 3, 0, 0]).unwrap_err().to_string();
        assert!(e.contains("truncated header"), "{e}");
    }

    proptest! {
        #[test]
        fn encode_and_parse_round_trip(rows in 1usize..20, cols in 1usize..20, seed in any::<u8>()) {
            let data: Vec<u8> = (0..rows * cols).map(|i| (i as u8).wrapping_mul(seed)).collect();
            let a = parse("t", &encode(&[rows, cols], &data)).unwrap();
            prop_assert_eq!(a.dims, vec![rows, cols]);
            prop_assert_eq!(a.data, data);
        }
    }
}
