//! Single column values: times as nanoseconds since the epoch, unsigned counts as
//! SQLite integers, shape hashes as 32-byte blobs when they are lowercase SHA-256
//! hex (text otherwise).

use jiff::Timestamp;
use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::api::ABANDONED_AFTER;
use crate::{Result, StoreError};

/// Nanoseconds since the epoch, the unit of every time column.
pub(crate) fn ts_to_sql(ts: Timestamp) -> Result<i64> {
    i64::try_from(ts.as_nanosecond()).map_err(|_| StoreError::Encode {
        what: format!("timestamp {ts} (outside 1677..2262)"),
        source: None,
    })
}

pub(crate) fn ts_from_sql(ns: i64) -> Result<Timestamp> {
    Timestamp::from_nanosecond(i128::from(ns)).map_err(|e| StoreError::Corrupt {
        what: format!("timestamp {ns}"),
        source: Some(Box::new(e)),
    })
}

/// The time before which a `running` run's heartbeat counts as stopped.
pub(crate) fn abandoned_cutoff(now: Timestamp) -> Result<i64> {
    Ok(ts_to_sql(now)?.saturating_sub(ABANDONED_AFTER.as_nanos() as i64))
}

/// An unsigned count as a column value.
pub(super) fn int(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Encode {
        what: format!("{what} {v}"),
        source: None,
    })
}

/// A column value back to an unsigned count (or index).
pub(super) fn uint<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T> {
    T::try_from(v).map_err(|_| StoreError::corrupt(format!("{what} {v}")))
}

/// A shape hash as stored: 32 bytes when it is 64 lowercase hex digits, else text.
pub(crate) enum HashSql<'a> {
    Blob([u8; 32]),
    Text(&'a str),
}

impl<'a> HashSql<'a> {
    pub(crate) fn new(hash: &'a str) -> Self {
        // 0..=15 for a lowercase hex digit, 0xff for anything else.
        const NIBBLE: [u8; 256] = {
            let mut table = [0xff; 256];
            let mut i = 0;
            while i < 16 {
                table[b"0123456789abcdef"[i] as usize] = i as u8;
                i += 1;
            }
            table
        };
        let b = hash.as_bytes();
        if b.len() != 64 {
            return Self::Text(hash);
        }
        let mut out = [0u8; 32];
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
            bad |= (hi | lo) & 0xf0;
            *o = hi << 4 | (lo & 0x0f);
        }
        if bad != 0 {
            return Self::Text(hash);
        }
        Self::Blob(out)
    }
}

impl ToSql for HashSql<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Blob(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            Self::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// A stored shape hash back to its text.
pub(crate) fn hash_from_sql(v: ValueRef<'_>) -> Result<Option<String>> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(bytes) => Ok(Some(
            bytes
                .iter()
                .flat_map(|b| {
                    [
                        HEX[usize::from(b >> 4)] as char,
                        HEX[usize::from(b & 15)] as char,
                    ]
                })
                .collect(),
        )),
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| StoreError::corrupt("a shape hash")),
        _ => Err(StoreError::corrupt("a shape hash")),
    }
}

/// The kind byte that starts a compact input identity.
const IDENTITY_KINDS: [(u8, &str); 2] = [(1, "inputs:"), (2, "commit:")];

/// An input identity as stored: `inputs:<hex>` and `commit:<hex>` as a kind byte
/// and the raw bytes (33 or 21 bytes instead of 71 or 47), anything else as text.
pub(crate) fn identity_to_sql(identity: &str) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    for (kind, prefix) in IDENTITY_KINDS {
        if let Some(hex) = identity.strip_prefix(prefix)
            && let Some(mut bytes) = decode_hex(hex)
        {
            bytes.insert(0, kind);
            return Value::Blob(bytes);
        }
    }
    Value::Text(identity.to_owned())
}

/// A stored input identity back to its text.
pub(crate) fn identity_from_sql(v: ValueRef<'_>) -> Result<Option<String>> {
    let bad = || StoreError::corrupt("an input identity");
    match v {
        ValueRef::Null => Ok(None),
        ValueRef::Blob([kind, bytes @ ..]) => {
            let (_, prefix) = IDENTITY_KINDS
                .iter()
                .find(|(k, _)| k == kind)
                .ok_or_else(bad)?;
            let hex = hash_from_sql(ValueRef::Blob(bytes))?.unwrap_or_default();
            Ok(Some(format!("{prefix}{hex}")))
        }
        ValueRef::Text(t) => std::str::from_utf8(t)
            .map(|s| Some(s.to_owned()))
            .map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// Lowercase hex of even length to bytes; `None` for anything else (so that the
/// text reads back exactly as it was written).
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    if hex.is_empty() || !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks_exact(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_compact_and_read_back_exactly() {
        use rusqlite::types::Value;
        let inputs = format!("inputs:{}", "ab".repeat(32));
        let commit = format!("commit:{}", "0f".repeat(20));
        for (identity, compact) in [
            (inputs.as_str(), Some(33)),
            (commit.as_str(), Some(21)),
            ("commit:ABC", None),
            ("inputs:", None),
            ("something else", None),
        ] {
            let stored = identity_to_sql(identity);
            match (&stored, compact) {
                (Value::Blob(b), Some(len)) => assert_eq!(b.len(), len, "{identity}"),
                (Value::Text(_), None) => {}
                other => panic!("{identity}: stored as {other:?}"),
            }
            let back = identity_from_sql(ValueRef::from(&stored)).expect("decode");
            assert_eq!(back.as_deref(), Some(identity));
        }
    }

    #[test]
    fn hashes_are_blobs_only_when_lowercase_sha256_hex() {
        let hex = "0123456789abcdef".repeat(4);
        let HashSql::Blob(bytes) = HashSql::new(&hex) else {
            panic!("expected a blob")
        };
        assert_eq!(
            hash_from_sql(ValueRef::Blob(&bytes)).expect("decode"),
            Some(hex.clone())
        );
        assert!(matches!(
            HashSql::new(&hex.to_uppercase()),
            HashSql::Text(_)
        ));
        assert!(matches!(HashSql::new("abc"), HashSql::Text(_)));
        assert!(matches!(HashSql::new(&"g".repeat(64)), HashSql::Text(_)));
    }
}
