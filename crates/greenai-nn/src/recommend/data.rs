//! Ratings files: RecBole's atomic `.inter` (a header `user_id:token item_id:token rating:float
//! timestamp:float`, tab-separated; how MovieLens-100K ships in PyPI `recbole`) and MovieLens's
//! plain `u.data` (user, item, rating, timestamp, tab-separated, no header). Ids are kept as
//! written; a malformed line is refused by its number.

use crate::rng::SplitMix64;
use crate::{NnError, Result};
use std::collections::HashMap;
use std::path::Path;

/// Ratings with users and items numbered in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Ratings {
    /// Each user's id as written, by number.
    pub users: Vec<String>,
    pub items: Vec<String>,
    /// (user, item, rating), in the file's order.
    pub triples: Vec<(u32, u32, f32)>,
}

/// Files larger than this are refused (MovieLens-25M's ratings are 680 MB).
const MAX_BYTES: u64 = 2 << 30;

/// Reads a ratings file in either layout.
pub fn read(path: &Path) -> Result<Ratings> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| NnError::Unavailable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if meta.len() > MAX_BYTES {
        return Err(NnError::Malformed {
            path: shown,
            reason: format!(
                "{} bytes is more than a ratings file greenai reads",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| NnError::Unavailable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| NnError::Malformed {
        path: shown.clone(),
        reason: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
    })?;
    parse(&text).map_err(|reason| NnError::Malformed {
        path: shown,
        reason,
    })
}

/// Parses ratings text; the error names the line.
pub fn parse(text: &str) -> std::result::Result<Ratings, String> {
    let mut lines = text.lines().enumerate().peekable();
    // RecBole's header names its columns: find the three we need.
    let (mut cu, mut ci, mut cr) = (0usize, 1usize, 2usize);
    if let Some((_, first)) = lines.peek() {
        if first.contains(':') && !first.trim().is_empty() {
            let cols: Vec<&str> = first
                .split('\t')
                .map(|c| c.split(':').next().unwrap_or(""))
                .collect();
            let find = |name: &str| {
                cols.iter()
                    .position(|c| *c == name)
                    .ok_or_else(|| format!("line 1: the header has no {name} column"))
            };
            cu = find("user_id")?;
            ci = find("item_id")?;
            cr = find("rating")?;
            lines.next();
        }
    }
    let mut r = Ratings::default();
    let (mut users, mut items): (HashMap<String, u32>, HashMap<String, u32>) = Default::default();
    for (n, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let need = cu.max(ci).max(cr) + 1;
        if f.len() < need {
            return Err(format!(
                "line {}: {} tab-separated fields, expected at least {need} (user, item, rating)",
                n + 1,
                f.len()
            ));
        }
        let rating: f32 = f[cr]
            .trim()
            .parse()
            .ok()
            .filter(|v: &f32| v.is_finite())
            .ok_or_else(|| format!("line {}: rating {:?} is not a number", n + 1, f[cr]))?;
        let (u, i) = (f[cu].trim(), f[ci].trim());
        if u.is_empty() || i.is_empty() {
            return Err(format!("line {}: an empty user or item id", n + 1));
        }
        let id = |map: &mut HashMap<String, u32>, list: &mut Vec<String>, key: &str| {
            *map.entry(key.to_string()).or_insert_with(|| {
                list.push(key.to_string());
                (list.len() - 1) as u32
            })
        };
        let uu = id(&mut users, &mut r.users, u);
        let ii = id(&mut items, &mut r.items, i);
        r.triples.push((uu, ii, rating));
    }
    if r.triples.is_empty() {
        return Err("no ratings".into());
    }
    Ok(r)
}

/// The fold of rating `i` of `k`: SplitMix64's first output for the seed `seed · 2³² + i`, modulo
/// `k`. A rule any language can repeat (the benchmark hands Surprise the same folds).
pub fn fold_of(i: usize, k: usize, seed: u64) -> usize {
    (SplitMix64::new(seed.wrapping_shl(32).wrapping_add(i as u64)).next_u64() % k as u64) as usize
}

/// The ratings of every fold but `fold` (training) and of `fold` (testing), by index.
pub fn split(n: usize, k: usize, fold: usize, seed: u64) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|&i| fold_of(i, k, seed) != fold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_layouts_read_and_bad_lines_are_named() {
        let inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t4.5\t1\n";
        let r = parse(inter).unwrap();
        assert_eq!(r.users, ["196", "186"]);
        assert_eq!(r.items, ["242", "302"]);
        assert_eq!(r.triples, [(0, 0, 3.0), (1, 1, 3.0), (0, 1, 4.5)]);
        let udata = "1\t10\t5\t0\n2\t10\t1\t0\n";
        assert_eq!(parse(udata).unwrap().triples.len(), 2);
        // Columns in another order, found by name.
        let swapped = "rating:float\titem_id:token\tuser_id:token\n4\tx\ta\n";
        assert_eq!(parse(swapped).unwrap().triples, [(0, 0, 4.0)]);
        assert_eq!(
            parse("1\t2\tfive\t0\n").unwrap_err(),
            "line 1: rating \"five\" is not a number"
        );
        assert!(parse("1\t2\t3\n1\t2\n")
            .unwrap_err()
            .starts_with("line 2: 2 tab-separated"));
        assert!(parse("user_id:token\trating:float\n")
            .unwrap_err()
            .contains("no item_id"));
        assert_eq!(parse("").unwrap_err(), "no ratings");
    }

    #[test]
    fn folds_partition_and_repeat() {
        let n = 10_000;
        let mut sizes = [0usize; 5];
        for i in 0..n {
            sizes[fold_of(i, 5, 0)] += 1;
        }
        assert!(
            sizes.iter().all(|&s| (1800..2200).contains(&s)),
            "{sizes:?}"
        );
        let (train, test) = split(n, 5, 2, 0);
        assert_eq!(train.len() + test.len(), n);
        assert!(test.iter().all(|&i| fold_of(i, 5, 0) == 2));
        // The reference the benchmark's Python repeats: seed 0, rating 0.
        assert_eq!(fold_of(0, 5, 0), (0xe220_a839_7b1d_cdafu64 % 5) as usize);
    }
}
