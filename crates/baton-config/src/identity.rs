//! A pipeline file's identity (its history key) without parsing the rest: what the
//! reading verbs need to pick the pipeline file's runs out of the history. A full
//! [`crate::load`] builds a node tree with positions for every value and checks
//! everything. In a block-style YAML file every line that starts in column 0 is a
//! top-level key (values, block scalars and continuations are indented), so `id:`
//! and `name:` are read off those lines; a file in any other shape (JSON, flow
//! style, an anchor or tag on the value) is parsed by the YAML parser instead.

use std::path::Path;

use serde::Deserialize;

/// The two top-level fields that name a pipeline in the history.
#[derive(Debug, Default, Deserialize)]
struct Head {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<serde_json::Value>,
}

/// The history key of the pipeline file at `path`, read as [`crate::load`] reads
/// it: the `id` when it is a string, else the `name`, else the file's stem. `None`
/// when the file cannot be read or parsed at all.
pub fn history_key(path: &Path) -> Option<String> {
    let text = crate::source::read_source(path).ok()?;
    let stem = || {
        path.file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
    };
    if let Some(Scanned { id, name }) = scan_block_style(&text) {
        return id.or(name).or_else(stem);
    }
    let head: Head = serde_saphyr::from_str(&text).ok()?;
    let string = |v: Option<serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    };
    string(head.id).or_else(|| string(head.name)).or_else(stem)
}

/// `id` and `name` as read off the column-0 lines of a block-style file.
struct Scanned {
    id: Option<String>,
    name: Option<String>,
}

/// `None` when the file is not plainly block style or a value is not a plain,
/// single- or double-quoted scalar on its key's line: the caller parses it then.
fn scan_block_style(text: &str) -> Option<Scanned> {
    let mut scanned = Scanned {
        id: None,
        name: None,
    };
    let mut keys_seen = false;
    for line in text.lines() {
        let first = line.chars().next();
        match first {
            None | Some(' ' | '#') => continue,
            Some('-') if !keys_seen && line.trim_end() == "---" => continue,
            Some('\t' | '{' | '[' | '-' | '%' | '?' | '&' | '*' | '!' | '"' | '\'' | '.') => {
                return None;
            }
            _ => keys_seen = true,
        }
        let slot = if let Some(rest) = line.strip_prefix("id:") {
            (rest, &mut scanned.id)
        } else if let Some(rest) = line.strip_prefix("name:") {
            (rest, &mut scanned.name)
        } else {
            continue;
        };
        let (rest, out) = slot;
        if out.is_some() || !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        *out = Some(scalar(rest.trim())?).filter(|s| !s.is_empty());
    }
    Some(scanned)
}

/// A scalar written on one line, without its trailing comment.
fn scalar(value: &str) -> Option<String> {
    match value.chars().next()? {
        '"' => {
            let end = value[1..].find(['"', '\\'])? + 1;
            (value.as_bytes()[end] == b'"' && trailer_ok(&value[end + 1..]))
                .then(|| value[1..end].to_owned())
        }
        '\'' => {
            // '' is a quote inside a single-quoted scalar.
            let inner = &value[1..];
            let mut text = String::new();
            let mut chars = inner.char_indices().peekable();
            while let Some((at, c)) = chars.next() {
                if c != '\'' {
                    text.push(c);
                } else if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                    chars.next();
                    text.push('\'');
                } else {
                    return trailer_ok(&inner[at + 1..]).then_some(text);
                }
            }
            None
        }
        '[' | '{' | '&' | '*' | '!' | '|' | '>' | '@' | '`' | '%' => None,
        _ => {
            let plain = match value.find(" #") {
                Some(at) => &value[..at],
                None => value,
            };
            let plain = plain.trim_end();
            (!plain.contains(": ") && !plain.ends_with(':')).then(|| plain.to_owned())
        }
    }
}

/// What may follow a quoted scalar on its line: nothing or a comment.
fn trailer_ok(rest: &str) -> bool {
    let rest = rest.trim_start();
    rest.is_empty() || rest.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(text: &str) -> Option<String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("baton.yaml");
        std::fs::write(&path, text).expect("write");
        history_key(&path)
    }

    #[test]
    fn the_key_is_the_one_a_full_load_gives() {
        let with_id = "version: 1\nid: 5cd3ae6b\nname: shop\nmovements:\n  - name: m\n    beats:\n      - name: b\n        run: \"true\"\n";
        let without_id = "version: 1\nname: shop\nmovements:\n  - name: m\n    beats:\n      - name: b\n        run: \"true\"\n";
        for text in [with_id, without_id] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("baton.yaml");
            std::fs::write(&path, text).expect("write");
            let loaded = crate::load(&path).pipeline.expect("valid");
            assert_eq!(history_key(&path).as_deref(), Some(loaded.history_key()));
        }
        assert_eq!(
            key_of(r#"{"version": 1, "name": "from-json"}"#).as_deref(),
            Some("from-json")
        );
        assert_eq!(
            key_of("version: 1\n").as_deref(),
            Some("baton"),
            "the file's stem"
        );
        assert_eq!(key_of("name: [unclosed\n"), None);
        // Read off the lines, and the same through the YAML parser.
        for (text, key) in [
            (
                "# c\n---\nversion: 1\nid: \"abc\" # note\nname: shop\n",
                "abc",
            ),
            ("version: 1\nname: 'shop' # c\nmovements: []\n", "shop"),
            (
                "version: 1\nname: shop # c\ndescription: |\n  id: no\n",
                "shop",
            ),
            ("version: 1\nid: 'it''s'\n", "it's"),
        ] {
            assert_eq!(key_of(text).as_deref(), Some(key), "{text}");
            let head: Head = serde_saphyr::from_str(text).expect("yaml");
            let parsed = match (head.id, head.name) {
                (Some(serde_json::Value::String(id)), _) => id,
                (_, Some(serde_json::Value::String(name))) => name,
                _ => String::new(),
            };
            assert_eq!(parsed, key, "{text}");
        }
        // Shapes the line reader leaves to the parser.
        for text in [
            "id: \"a\\tb\"\n",
            "name: &n shop\n",
            "{\"name\": \"x\"}",
            "name:\n  shop\n",
        ] {
            assert!(scan_block_style(text).is_none(), "{text}");
        }
    }
}
