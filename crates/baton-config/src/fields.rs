//! Typed reads from the node tree. Each read that fails adds a diagnostic pointing at
//! the offending node and returns `None`, so one pass finds every problem.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::duration::parse_duration;
use crate::tree::{Node, Pos, Value};

/// Collects diagnostics while the tree is read.
#[derive(Debug, Default)]
pub struct Reader {
    pub diagnostics: Vec<Diagnostic>,
}

impl Reader {
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    pub fn wrong_type(&mut self, node: &Node, field: &str, expected: &str) {
        self.report(
            Diagnostic::new(
                Code::WrongType,
                Severity::Major,
                Some(node.pos),
                format!("'{field}' must be {expected}, found {}", node.value.kind()),
            )
            .fix(format!("write '{field}' as {expected}")),
        );
    }

    /// The entries of a mapping, keyed by name. Unknown keys are reported with the
    /// closest known key as a suggestion; `aliases` maps an accepted alias to its key.
    pub fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        known: &[&str],
        aliases: &[(&str, &str)],
    ) -> Option<BTreeMap<String, (Pos, &'n Node)>> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        let mut out = BTreeMap::new();
        for (key, value) in entries {
            let Some(name) = key.as_scalar_text() else {
                self.wrong_type(key, what, "a mapping with text keys");
                continue;
            };
            let canonical = aliases
                .iter()
                .find(|(alias, _)| *alias == name)
                .map_or(name.as_str(), |(_, key)| *key);
            if !known.contains(&canonical) {
                let hint = suggest(&name, known);
                let msg = match &hint {
                    Some(s) => format!("unknown field '{name}' in {what} (did you mean '{s}'?)"),
                    None => format!("unknown field '{name}' in {what}"),
                };
                let fix = match hint {
                    Some(s) => format!("rename '{name}' to '{s}'"),
                    None => format!("remove '{name}'; known fields: {}", known.join(", ")),
                };
                self.report(
                    Diagnostic::new(Code::UnknownField, Severity::Major, Some(key.pos), msg)
                        .fix(fix),
                );
                continue;
            }
            if out.contains_key(canonical) {
                self.report(
                    Diagnostic::new(
                        Code::BadValue,
                        Severity::Major,
                        Some(key.pos),
                        format!("'{name}' is given twice in {what} (once through an alias)"),
                    )
                    .fix(format!("keep only one of '{canonical}' and its alias")),
                );
                continue;
            }
            out.insert(canonical.to_string(), (key.pos, value));
        }
        Some(out)
    }

    pub fn string(&mut self, node: &Node, field: &str) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => node.as_scalar_text(),
            _ => {
                self.wrong_type(node, field, "a string");
                None
            }
        }
    }

    /// A pipeline, movement or beat name (`what`): a string without control
    /// characters, which would be echoed into terminals and logs (B108; the name
    /// is still returned so that the rest of the file is checked).
    pub fn name(&mut self, node: &Node, what: &str) -> Option<String> {
        let name = self.string(node, "name")?;
        if let Some(c) = baton_model::escape::first_control(&name) {
            self.report(
                Diagnostic::new(
                    Code::ControlCharInName,
                    Severity::Critical,
                    Some(node.pos),
                    format!(
                        "{what} name '{}' holds the control character U+{:04X}",
                        baton_model::escape::escape_control(&name),
                        u32::from(c)
                    ),
                )
                .fix(format!(
                    "remove control characters (tabs, newlines, escapes, NUL) from the {what} name"
                )),
            );
        }
        Some(name)
    }

    pub fn boolean(&mut self, node: &Node, field: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    pub fn unsigned(&mut self, node: &Node, field: &str) -> Option<u32> {
        match &node.value {
            Value::Int(i) if *i >= 0 && *i <= i64::from(u32::MAX) => Some(*i as u32),
            Value::Int(i) if *i < 0 => {
                self.bad_value(
                    node,
                    format!("'{field}' must be zero or more"),
                    "use a whole number >= 0",
                );
                None
            }
            Value::Int(_) => {
                self.bad_value(
                    node,
                    format!("'{field}' is too large (at most {})", u32::MAX),
                    "use a smaller whole number",
                );
                None
            }
            _ => {
                self.wrong_type(node, field, "a whole number");
                None
            }
        }
    }

    pub fn number(&mut self, node: &Node, field: &str) -> Option<f64> {
        match &node.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) if f.is_finite() => Some(*f),
            Value::Float(f) => {
                self.bad_value(
                    node,
                    format!("'{field}' must be a finite number, found {f}"),
                    "use an ordinary number such as 2 or 0.5",
                );
                None
            }
            _ => {
                self.wrong_type(node, field, "a number");
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    pub fn string_list(&mut self, node: &Node, field: &str) -> Option<Vec<(Pos, String)>> {
        match &node.value {
            Value::Str(s) => Some(vec![(node.pos, s.clone())]),
            Value::Null => Some(Vec::new()),
            Value::Seq(items) => {
                let mut out = Vec::new();
                for item in items {
                    match &item.value {
                        Value::Str(s) => out.push((item.pos, s.clone())),
                        _ => self.wrong_type(item, field, "a list of strings"),
                    }
                }
                Some(out)
            }
            _ => {
                self.wrong_type(node, field, "a list of strings");
                None
            }
        }
    }

    /// A duration string (`5s`, `1h30m`) or a number of seconds.
    pub fn duration(&mut self, node: &Node, field: &str) -> Option<Duration> {
        let text = match &node.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Float(_) => node.as_scalar_text()?,
            _ => {
                self.wrong_type(node, field, "a duration such as 30s");
                return None;
            }
        };
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(msg) => {
                self.report(
                    Diagnostic::new(
                        Code::BadDuration,
                        Severity::Major,
                        Some(node.pos),
                        format!("bad duration for '{field}': {msg}"),
                    )
                    .fix("use a duration such as 500ms, 5s, 2m or 1h30m"),
                );
                None
            }
        }
    }

    /// A mapping of names to scalar values (env).
    pub fn string_map(&mut self, node: &Node, field: &str) -> Option<Vec<(Pos, String, String)>> {
        let Value::Map(entries) = &node.value else {
            self.wrong_type(node, field, "a mapping of names to values");
            return None;
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let Some(name) = key.as_scalar_text() else {
                self.wrong_type(key, field, "a mapping with text keys");
                continue;
            };
            let text = match &value.value {
                Value::Null => String::new(),
                _ => match value.as_scalar_text() {
                    Some(t) => t,
                    None => {
                        self.wrong_type(value, &format!("{field}.{name}"), "a string");
                        continue;
                    }
                },
            };
            out.push((key.pos, name, text));
        }
        Some(out)
    }

    pub fn bad_value(&mut self, node: &Node, message: String, fix: &str) {
        self.report(
            Diagnostic::new(Code::BadValue, Severity::Major, Some(node.pos), message).fix(fix),
        );
    }
}

/// The closest candidate when it is close enough to be a typo; one as far from
/// `word` as a full rewrite (`zz` and `a`) is not.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word_len = word.chars().count();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(distance, c)| {
            *distance <= 2.max(c.len() / 3) && *distance < word_len.max(c.chars().count())
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// Same as [`suggest`] for owned candidates.
pub fn suggest_owned(word: &str, candidates: &[String]) -> Option<String> {
    let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    suggest(word, &refs).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(value: Value) -> Node {
        Node {
            pos: Pos { line: 3, col: 7 },
            value,
        }
    }

    #[test]
    fn numbers_must_be_finite_and_whole_numbers_fit() {
        let mut r = Reader::default();
        assert_eq!(r.number(&node(Value::Float(f64::NAN)), "factor"), None);
        assert_eq!(r.number(&node(Value::Float(f64::INFINITY)), "factor"), None);
        assert_eq!(r.unsigned(&node(Value::Int(1 << 40)), "attempts"), None);
        assert_eq!(r.unsigned(&node(Value::Int(-1)), "attempts"), None);
        let messages: Vec<&str> = r.diagnostics.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "'factor' must be a finite number, found NaN",
                "'factor' must be a finite number, found inf",
                "'attempts' is too large (at most 4294967295)",
                "'attempts' must be zero or more",
            ]
        );
        assert!(r.diagnostics.iter().all(|d| d.line == Some(3)));
    }

    #[test]
    fn suggestions_catch_typos_only() {
        let known = ["needs", "name", "run", "outputs"];
        assert_eq!(suggest("neds", &known), Some("needs"));
        assert_eq!(suggest("ouputs", &known), Some("outputs"));
        assert_eq!(suggest("completely-else", &known), None);
        assert_eq!(suggest("zz", &["a", "b"]), None);
        assert_eq!(suggest("b", &["a"]), None);
        assert_eq!(suggest("ab", &["abc"]), Some("abc"));
    }
}
