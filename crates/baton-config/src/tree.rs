//! A YAML/JSON document as a tree of nodes that remember their line and column, so
//! every later check can point into the user's file.
//!
//! serde-saphyr parses; this module only turns what it reads into [`Node`]s: with
//! positions (its `Spanned` values) or, for a file expected to be valid, without.
//! JSON is read by the same parser (JSON is YAML's flow style), which gives JSON files
//! the same positions and error messages.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Options, Spanned};

/// Deepest nesting accepted; real pipeline files use fewer than ten levels.
pub const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order; keys are kept as nodes so they have positions too.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The word used in "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// Scalars rendered as text (YAML users write `timeout: 30` and mean a string).
    pub fn as_scalar_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// A parse failure with the position the parser reported.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Option<Pos>,
    pub message: String,
}

/// Parses `text` into nodes that know their line and column.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    parse_as::<Positioned>(text).map(Positioned::into_node)
}

/// Parses `text` into nodes without positions (every `pos` is line 0, column 0),
/// about a third of [`parse`]'s cost: for a file expected to be valid, whose
/// findings (if any) are then found again with [`parse`]. A syntax error has
/// its position either way (the parser reports it).
pub fn parse_without_positions(text: &str) -> Result<Node, SyntaxError> {
    parse_as::<Unpositioned>(text).map(Unpositioned::into_node)
}

fn parse_as<T: de::DeserializeOwned>(text: &str) -> Result<T, SyntaxError> {
    let mut options = Options::default();
    options.with_snippet = false;
    // YAML 1.2 booleans only: `on:` (retry.on) and `no` stay strings.
    options.strict_booleans = true;
    if let Some(budget) = options.budget.as_mut() {
        budget.max_depth = MAX_DEPTH;
    }
    serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let pos = err.location().and_then(|loc| {
            (loc.line() > 0).then(|| Pos {
                line: loc.line() as u32,
                col: loc.column() as u32,
            })
        });
        let mut message = one_line_message(&err.to_string());
        if message.contains("recursion limit") || message.contains("depth") {
            message = format!("document nests deeper than {MAX_DEPTH} levels");
        } else if message.contains("budget") {
            // Alias bombs and giant documents: the parser's own text is internal.
            message = "document is too large or expands too many aliases".into();
        }
        SyntaxError { pos, message }
    })
}

/// The parser's message without its own location suffix, on one line.
fn one_line_message(text: &str) -> String {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("invalid document");
    let trimmed = match first.rfind(" at line ") {
        Some(idx) => &first[..idx],
        None => first,
    };
    trimmed.trim().trim_end_matches(':').to_string()
}

/// A node as serde-saphyr's spanned deserializer gives it (its `Spanned` reads
/// each node as a struct of value and locations: that is what positions cost).
struct Positioned(Spanned<Raw<Positioned>>);

impl Positioned {
    fn into_node(self) -> Node {
        let loc = self.0.referenced;
        let pos = Pos {
            line: loc.line() as u32,
            col: loc.column() as u32,
        };
        Node {
            pos,
            value: self.0.value.into_value(Self::into_node),
        }
    }
}

impl<'de> Deserialize<'de> for Positioned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Spanned::deserialize(deserializer).map(Self)
    }
}

/// A node read without its location.
struct Unpositioned(Raw<Unpositioned>);

impl Unpositioned {
    fn into_node(self) -> Node {
        Node {
            pos: Pos::default(),
            value: self.0.into_value(Self::into_node),
        }
    }
}

impl<'de> Deserialize<'de> for Unpositioned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Raw::deserialize(deserializer).map(Self)
    }
}

/// What serde-saphyr deserializes into, its children of type `C`; converted to
/// [`Node`] right after.
enum Raw<C> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<C>),
    Map(Vec<(C, C)>),
}

impl<C> Raw<C> {
    fn into_value(self, node: fn(C) -> Node) -> Value {
        match self {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::Int(i) => Value::Int(i),
            Raw::Float(f) => Value::Float(f),
            Raw::Str(s) => Value::Str(s),
            Raw::Seq(items) => Value::Seq(items.into_iter().map(node).collect()),
            Raw::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (node(k), node(v)))
                    .collect(),
            ),
        }
    }
}

impl<'de, C: Deserialize<'de>> Deserialize<'de> for Raw<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor(PhantomData))
    }
}

struct RawVisitor<C>(PhantomData<C>);

impl<'de, C: Deserialize<'de>> Visitor<'de> for RawVisitor<C> {
    type Value = Raw<C>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw<C>, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Raw<C>, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw<C>, D::Error> {
        Raw::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw<C>, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw<C>, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw<C>, E> {
        Ok(i64::try_from(v)
            .map(Raw::Int)
            .unwrap_or(Raw::Float(v as f64)))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw<C>, E> {
        Ok(i64::try_from(v)
            .map(Raw::Int)
            .unwrap_or(Raw::Float(v as f64)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw<C>, E> {
        Ok(i64::try_from(v)
            .map(Raw::Int)
            .unwrap_or(Raw::Float(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw<C>, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw<C>, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw<C>, E> {
        Ok(Raw::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Raw<C>, E> {
        Ok(Raw::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw<C>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<C>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw<C>, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<C, C>()? {
            entries.push((k, v));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_their_positions() {
        let node = parse("name: demo\nmovements:\n  - name: a\n    beats: []\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[0].0.pos, Pos { line: 1, col: 1 });
        assert_eq!(entries[1].0.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("expected a list")
        };
        let Value::Map(movement) = &items[0].value else {
            panic!("expected a map")
        };
        assert_eq!(movement[0].0.pos, Pos { line: 3, col: 5 });
        assert_eq!(movement[1].0.pos, Pos { line: 4, col: 5 });
    }

    #[test]
    fn without_positions_the_same_tree_is_read() {
        fn strip(node: &mut Node) {
            node.pos = Pos::default();
            match &mut node.value {
                Value::Seq(items) => items.iter_mut().for_each(strip),
                Value::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                    strip(k);
                    strip(v);
                }),
                _ => {}
            }
        }
        let text = "name: demo\nn: 3\nf: 1.5\nb: true\nz: ~\non: [a, {x: y}]\n";
        let mut positioned = parse(text).unwrap();
        strip(&mut positioned);
        assert_eq!(parse_without_positions(text).unwrap(), positioned);
        let err = parse_without_positions("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err, parse("a: 1\nb: 2\na: 3\n").unwrap_err());
    }

    #[test]
    fn json_is_read_with_positions() {
        let node = parse("{\n  \"name\": \"demo\",\n  \"version\": 1\n}\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[1].0.pos.line, 3);
        assert_eq!(entries[1].1.value, Value::Int(1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
        assert!(!err.message.contains('\n'));
    }

    #[test]
    fn duplicate_keys_are_rejected_with_a_position() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos.map(|p| p.line), Some(3), "{err:?}");
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let doc = "[".repeat(10_000) + &"]".repeat(10_000);
        let err = parse(&doc).unwrap_err();
        assert!(err.message.contains("deeper than"), "{err:?}");
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let node = parse("on: [timeout]\nx: yes\n").unwrap();
        let Value::Map(entries) = node.value else {
            panic!("expected a map")
        };
        assert_eq!(entries[0].0.value, Value::Str("on".into()));
        assert_eq!(entries[1].1.value, Value::Str("yes".into()));
    }

    #[test]
    fn tabs_in_indentation_are_an_error() {
        let err = parse("a:\n\tb: 1\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
    }
}
