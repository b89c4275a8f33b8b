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
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| NnError::Malformed {
                path: p.clone(),
                reason: format!("gzip stream is damaged ({e})"),
            })?;
        out
    } else {
        raw
    };
    parse(&p, &bytes)
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
