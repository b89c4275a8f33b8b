//! Labelled text: JSON Lines (`{"text": "...", "label": "..."}` per line; a label may be a string
//! or a whole number) or TSV (`label<TAB>text` per line; Orange's three header lines, as in the
//! Reuters R8 files, are skipped). Class names are sorted, so that ids do not depend on the
//! order of the lines.

use crate::{NnError, Result};
use std::collections::BTreeSet;
use std::path::Path;

/// Texts with their class ids.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextSet {
    pub texts: Vec<String>,
    pub labels: Vec<u32>,
    pub classes: Vec<String>,
}

/// The most classes a head is trained for (labels travel as bytes).
pub const MAX_CLASSES: usize = 256;

impl TextSet {
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// From `(label, text)` pairs, with class ids from the sorted names of `names` (so that a
    /// test file uses its training file's ids).
    pub fn from_pairs(pairs: Vec<(String, String)>, names: Option<&[String]>) -> Result<TextSet> {
        let classes: Vec<String> = match names {
            Some(n) => n.to_vec(),
            None => pairs
                .iter()
                .map(|(l, _)| l.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        };
        if classes.len() > MAX_CLASSES {
            return Err(NnError::Invalid(format!(
                "{} classes; greenai trains heads of up to {MAX_CLASSES}",
                classes.len()
            )));
        }
        let mut set = TextSet {
            classes,
            ..TextSet::default()
        };
        for (label, text) in pairs {
            let Some(id) = set.classes.iter().position(|c| *c == label) else {
                return Err(NnError::Invalid(format!(
                    "label {label:?} is not one of the training labels"
                )));
            };
            set.labels.push(id as u32);
            set.texts.push(text);
        }
        Ok(set)
    }

    /// The rows at `idx`, with the same classes.
    pub fn subset(&self, idx: &[usize]) -> TextSet {
        TextSet {
            texts: idx.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
        }
    }
}

/// Reads `path` as JSON Lines (`.jsonl`, `.json`) or TSV (anything else); up to 1 GiB.
pub fn read(path: &Path, names: Option<&[String]>) -> Result<TextSet> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| NnError::Unavailable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if bytes.len() > 1 << 30 {
        return Err(NnError::Malformed {
            path: shown,
            reason: "larger than 1 GiB".into(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| NnError::Malformed {
        path: shown.clone(),
        reason: format!("not UTF-8 (byte {})", e.utf8_error().valid_up_to()),
    })?;
    let jsonl = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "json" | "ndjson")
    );
    let pairs = if jsonl {
        parse_jsonl(&text)
    } else {
        parse_tsv(&text)
    }
    .map_err(|reason| NnError::Malformed {
        path: shown.clone(),
        reason,
    })?;
    if pairs.is_empty() {
        return Err(NnError::Malformed {
            path: shown,
            reason: "no labelled text in it".into(),
        });
    }
    TextSet::from_pairs(pairs, names)
}

fn parse_jsonl(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let text = v
            .get("text")
            .and_then(|t| t.as_str())
            .ok_or_else(|| format!("line {}: no \"text\" string", n + 1))?;
        let label = match v.get("label") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(serde_json::Value::Number(x)) if x.is_u64() || x.is_i64() => x.to_string(),
            _ => {
                return Err(format!(
                    "line {}: no \"label\" (a string or a whole number)",
                    n + 1
                ))
            }
        };
        out.push((label, text.to_string()));
    }
    Ok(out)
}

fn parse_tsv(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let lines: Vec<&str> = text.lines().collect();
    // Orange's .tab header: names, types ("d\tstring"), flags ("class\t").
    let skip = if lines.len() >= 3 && lines[1].starts_with("d\t") && lines[2].starts_with("class") {
        3
    } else {
        0
    };
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate().skip(skip) {
        if line.trim().is_empty() {
            continue;
        }
        let Some((label, text)) = line.split_once('\t') else {
            return Err(format!(
                "line {}: no tab between the label and the text",
                n + 1
            ));
        };
        if label.trim().is_empty() {
            return Err(format!("line {}: an empty label", n + 1));
        }
        out.push((label.trim().to_string(), text.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_read_to_the_same_set() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("a.jsonl");
        std::fs::write(
            &j,
            "{\"text\":\"good\",\"label\":\"pos\"}\n\n{\"text\":\"bad\",\"label\":\"neg\"}\n",
        )
        .unwrap();
        let t = dir.path().join("a.tab");
        std::fs::write(
            &t,
            "Category\tText\nd\tstring\nclass\t\npos\tgood\nneg\tbad\n",
        )
        .unwrap();
        let (a, b) = (read(&j, None).unwrap(), read(&t, None).unwrap());
        assert_eq!(a, b);
        assert_eq!(a.classes, ["neg", "pos"]);
        assert_eq!(a.labels, [1, 0]);
    }

    #[test]
    fn bad_files_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        for (name, body, want) in [
            ("a.jsonl", "{\"text\":\"x\"}\n", "line 1: no \"label\""),
            (
                "b.jsonl",
                "{\"text\":\"x\",\"label\":1}\nnot json\n",
                "line 2",
            ),
            ("c.tsv", "pos\tfine\nno tab here\n", "line 2: no tab"),
            ("d.tsv", "\n\n", "no labelled text"),
            ("e.tsv", "\tfine\n", "an empty label"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, body).unwrap();
            let e = read(&p, None).unwrap_err().to_string();
            assert!(e.contains(want), "{name}: {e}");
        }
        let p = dir.path().join("f.tsv");
        std::fs::write(&p, "other\tx\n").unwrap();
        let e = read(&p, Some(&["pos".to_string()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not one of the training labels"), "{e}");
    }
}
