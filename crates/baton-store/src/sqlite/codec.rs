//! Records to columns and back.
//!
//! A beat row holds what is queried or filtered in columns (enums as small integer
//! codes, times as nanoseconds since the epoch, shape hashes as 32-byte blobs when
//! they are lowercase SHA-256 hex, text otherwise) and the rest of the record as
//! short-keyed JSON in `extra` (non-finite floats as strings). A reloaded record
//! equals the stored one; a row takes about 300 bytes on disk and is cheap to insert.
//! A run keeps its whole [`RunRecord`] as JSON beside the columns it is filtered by.
//!
//! The record types are destructured without `..` and enum codes matched
//! exhaustively: a field or variant added to the model stops the build here until
//! it has a place (a key in `extra` needs no migration; a column does).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use baton_model::{
    BeatRecord, BeatStatus, BeatType, CacheState, Level, RollbackRecord, RunRecord, RunStatus,
    Shape, SlaStatus, SlaVerdict, SloTarget, TestCounts,
};
use jiff::Timestamp;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Row, Statement, ToSql, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::ABANDONED_AFTER;
use crate::error::SqlContext;
use crate::{Result, StoreError};

/// Stable integer codes of an enum, both ways. Never renumber a released code.
macro_rules! codes {
    ($module:ident, $what:literal, $ty:ident { $($variant:ident = $code:literal),* $(,)? }) => {
        pub(crate) mod $module {
            use super::*;

            pub(crate) fn encode(v: $ty) -> i64 {
                match v {
                    $($ty::$variant => $code,)*
                }
            }

            pub(crate) fn decode(code: i64) -> Result<$ty> {
                match code {
                    $($code => Ok($ty::$variant),)*
                    _ => Err(StoreError::corrupt(format!("{} code {code}", $what))),
                }
            }
        }
    };
}

codes!(beat_status, "beat status", BeatStatus {
    Success = 0, Failure = 1, Timeout = 2, Cancelled = 3, Skipped = 4,
});
codes!(cache_state, "cache state", CacheState { Hit = 0, Miss = 1, Skip = 2, Expired = 3 });
codes!(sla_status, "SLA status", SlaStatus { Compliant = 0, Warning = 1, Breach = 2, Critical = 3 });

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

fn int(v: u64, what: &str) -> Result<i64> {
    i64::try_from(v).map_err(|_| StoreError::Encode {
        what: format!("{what} {v}"),
        source: None,
    })
}

fn uint<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T> {
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

/// The part of a beat record kept as JSON in `extra`: everything that is read back
/// but never filtered on. Short keys, absent when empty: it is written a million
/// times.
#[derive(Serialize, Deserialize)]
struct Extra<'a> {
    #[serde(rename = "t")]
    beat_type: BeatType,
    #[serde(rename = "l", default, skip_serializing_if = "is_default")]
    level: Level,
    #[serde(rename = "r", borrow, default, skip_serializing_if = "Option::is_none")]
    reason: Option<Cow<'a, str>>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    #[serde(rename = "sg", default, skip_serializing_if = "Option::is_none")]
    signal: Option<i32>,
    #[serde(rename = "a", default = "one", skip_serializing_if = "is_one")]
    attempts: u32,
    #[serde(rename = "db", borrow)]
    duration_bucket: Cow<'a, str>,
    #[serde(rename = "ac", default, skip_serializing_if = "is_default")]
    artifacts_count: u64,
    #[serde(rename = "ab", default, skip_serializing_if = "is_default")]
    artifacts_bytes: u64,
    #[serde(rename = "ec", default, skip_serializing_if = "is_default")]
    errors_count: u64,
    #[serde(rename = "ts", default, skip_serializing_if = "Option::is_none")]
    tests: Option<TestCounts>,
    #[serde(
        rename = "cu",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    cost_usd: Option<f64>,
    #[serde(
        rename = "m",
        default,
        skip_serializing_if = "is_empty",
        with = "real_map"
    )]
    metrics: Cow<'a, BTreeMap<String, f64>>,
    #[serde(rename = "sd")]
    slo_duration_ns: u64,
    #[serde(rename = "se", default, skip_serializing_if = "is_default")]
    slo_errors: u32,
    #[serde(
        rename = "sc",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    slo_cache_hit_rate: Option<f64>,
    #[serde(rename = "vd", default, skip_serializing_if = "is_default")]
    sla_duration: SlaStatus,
    #[serde(rename = "vr", with = "real")]
    sla_ratio: f64,
    #[serde(rename = "vp", with = "real")]
    sla_breach_percent: f64,
    #[serde(rename = "ve", default, skip_serializing_if = "is_default")]
    sla_errors: SlaStatus,
    #[serde(rename = "vc", default, skip_serializing_if = "is_default")]
    sla_cache: SlaStatus,
    #[serde(
        rename = "vh",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    sla_cache_hit_rate: Option<f64>,
    /// The shape's canonical string, or only what follows the part the columns
    /// already say (`m{movement}:b{beat}:{bucket}:{status}:`) when it starts so.
    #[serde(rename = "c", borrow, default, skip_serializing_if = "Option::is_none")]
    canonical: Option<Cow<'a, str>>,
    #[serde(
        rename = "cs",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    canonical_suffix: Option<Cow<'a, str>>,
    /// Its rollback, when one ran (rare: the record is written again with it).
    #[serde(rename = "rb", default, skip_serializing_if = "Option::is_none")]
    rollback: Option<RollbackRecord>,
    /// The log path, or only its directory when it is the conventional
    /// `{dir}/{run label}/{movement}/{beat}.log`.
    #[serde(
        rename = "lp",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    log_path: Option<Cow<'a, str>>,
    #[serde(
        rename = "ld",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    log_dir: Option<Cow<'a, str>>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn one() -> u32 {
    1
}

fn is_one(v: &u32) -> bool {
    *v == 1
}

/// The start of a canonical shape string that the beat's columns determine.
fn canonical_prefix(
    movement_index: u32,
    beat_index: u32,
    duration_bucket: &str,
    status: BeatStatus,
) -> String {
    format!(
        "m{movement_index}:b{beat_index}:{duration_bucket}:{}:",
        status.as_str()
    )
}

/// What follows [`canonical_prefix`] in `canonical`, when it starts with exactly
/// that (checked without allocating: this runs for every inserted beat).
fn canonical_suffix<'c>(
    canonical: &'c str,
    movement_index: u32,
    beat_index: u32,
    duration_bucket: &str,
    status: BeatStatus,
) -> Option<&'c str> {
    fn number(s: &str, tag: char, value: u32) -> Option<&str> {
        let (digits, rest) = s.strip_prefix(tag)?.split_once(':')?;
        let canonical_form = digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        (canonical_form && digits.parse() == Ok(value)).then_some(rest)
    }
    let rest = number(canonical, 'm', movement_index)?;
    let rest = number(rest, 'b', beat_index)?;
    let rest = rest.strip_prefix(duration_bucket)?.strip_prefix(':')?;
    rest.strip_prefix(status.as_str())?.strip_prefix(':')
}

/// The directory of a conventional log path `{dir}/{label}/{movement}/{beat}.log`
/// (names encoded by [`baton_model::layout`]).
fn log_dir<'p>(path: &'p str, label: &str, movement: &str, beat: &str) -> Option<&'p str> {
    let tail = baton_model::layout::beat_log_tail(label, movement, beat);
    let dir = path.strip_suffix(tail.as_str())?.strip_suffix('/')?;
    (!dir.is_empty()).then_some(dir)
}

#[allow(clippy::ptr_arg)] // serde passes the field's own type
fn is_empty(m: &Cow<'_, BTreeMap<String, f64>>) -> bool {
    m.is_empty()
}

/// JSON has no NaN or infinity (serde_json would write `null` and fail to read it
/// back): those are written as the strings "NaN", "inf", "-inf".
mod real {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v > 0.0 {
            s.serialize_str("inf")
        } else {
            s.serialize_str("-inf")
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Repr::deserialize(d)? {
            Repr::Number(v) => Ok(v),
            Repr::Text(t) => match t.as_str() {
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Ok(f64::NAN),
            },
        }
    }

    /// Wrapper to serialize through [`serialize`] inside options and maps.
    #[derive(serde::Serialize, Deserialize)]
    pub struct Real(#[serde(with = "self")] pub f64);
}

mod opt_real {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::real::Real;

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Real).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Real>::deserialize(d)?.map(|r| r.0))
    }
}

mod real_map {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::real::Real;

    #[allow(clippy::ptr_arg)] // serde passes the field's own type
    pub fn serialize<S: Serializer>(
        m: &Cow<'_, BTreeMap<String, f64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, Real(*v))))
    }

    pub fn deserialize<'de, 'a, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Cow<'a, BTreeMap<String, f64>>, D::Error> {
        let raw = BTreeMap::<String, Real>::deserialize(d)?;
        Ok(Cow::Owned(raw.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}

/// Bits of a beat's row id that hold its series; the run's row id is above them.
pub(crate) const SERIES_BITS: u32 = 20;

/// A beat's row id: `run << 20 | series`.
pub(crate) fn beat_row_id(run: i64, series: i64) -> i64 {
    (run << SERIES_BITS) | series
}

/// SQL condition: `b` is a beat of the run whose row id is bound as `?N`.
pub(crate) fn beats_of_run(param: usize) -> String {
    format!("b.id BETWEEN (?{param} << 20) AND (?{param} << 20) + 1048575")
}

/// `INSERT INTO beats`, in the order [`insert_encoded`] binds.
pub(crate) const INSERT_BEAT: &str = "INSERT INTO beats (
    id, movement_index, movement, beat_index, started_at, status, duration_ms, cpu_user_ms,
    cpu_sys_ms, peak_rss_bytes, cache_state, sla_status, shape_hash, prev_shape_hash,
    evolved, extra
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// A beat record turned into column values, ready to bind: the work that needs no
/// database, so a bulk insert can do it on another thread.
pub(crate) struct EncodedBeat<'a> {
    name: &'a str,
    movement_index: u32,
    movement: &'a str,
    beat_index: u32,
    started_at: i64,
    status: i64,
    duration_ms: i64,
    cpu_user_ms: i64,
    cpu_sys_ms: i64,
    peak_rss_bytes: i64,
    cache_state: i64,
    sla_status: i64,
    hash: HashSql<'a>,
    prev_hash: Option<HashSql<'a>>,
    evolved: bool,
    /// Where its `extra` JSON sits in the buffer given to [`encode_beat`].
    extra: std::ops::Range<usize>,
}

/// Encode `beat` (of the run labelled `label`), appending its `extra` JSON to `json`.
pub(crate) fn encode_beat<'a>(
    beat: &'a BeatRecord,
    label: &str,
    json: &mut Vec<u8>,
) -> Result<EncodedBeat<'a>> {
    let BeatRecord {
        run_id: _,
        movement_index,
        movement,
        beat_index,
        beat: name,
        beat_type,
        level,
        started_at,
        status,
        reason,
        exit_code,
        signal,
        attempts,
        duration_ms,
        duration_bucket,
        cpu_user_ms,
        cpu_sys_ms,
        peak_rss_bytes,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state,
        tests,
        cost_usd,
        metrics,
        slo,
        sla,
        shape,
        log_path,
        rollback,
    } = beat;
    let SloTarget {
        duration: slo_duration,
        errors: slo_errors,
        cache_hit_rate: slo_cache_rate,
    } = slo;
    let SlaVerdict {
        overall_status,
        duration_status,
        duration_ratio,
        duration_breach_percent,
        errors_status,
        cache_status,
        cache_hit_rate,
    } = sla;
    let Shape {
        hash,
        canonical,
        previous_hash,
        evolved,
    } = shape;
    let encode_err = |source| StoreError::Encode {
        what: format!("beat '{name}'"),
        source,
    };
    let canonical_suffix = canonical_suffix(
        canonical,
        *movement_index,
        *beat_index,
        duration_bucket,
        *status,
    );
    let dir = log_path
        .as_deref()
        .and_then(|p| log_dir(p, label, movement, name));
    let extra = Extra {
        beat_type: *beat_type,
        level: *level,
        reason: reason.as_deref().map(Cow::Borrowed),
        exit_code: *exit_code,
        signal: *signal,
        attempts: *attempts,
        duration_bucket: Cow::Borrowed(duration_bucket),
        artifacts_count: *artifacts_count,
        artifacts_bytes: *artifacts_bytes,
        errors_count: *errors_count,
        tests: *tests,
        cost_usd: *cost_usd,
        metrics: Cow::Borrowed(metrics),
        slo_duration_ns: u64::try_from(slo_duration.as_nanos()).map_err(|_| encode_err(None))?,
        slo_errors: *slo_errors,
        slo_cache_hit_rate: *slo_cache_rate,
        sla_duration: *duration_status,
        sla_ratio: *duration_ratio,
        sla_breach_percent: *duration_breach_percent,
        sla_errors: *errors_status,
        sla_cache: *cache_status,
        sla_cache_hit_rate: *cache_hit_rate,
        canonical: canonical_suffix
            .is_none()
            .then_some(Cow::Borrowed(canonical.as_str())),
        canonical_suffix: canonical_suffix.map(Cow::Borrowed),
        log_path: dir
            .is_none()
            .then_some(log_path.as_deref().map(Cow::Borrowed))
            .flatten(),
        log_dir: dir.map(Cow::Borrowed),
        rollback: rollback.clone(),
    };
    let start = json.len();
    serde_json::to_writer(&mut *json, &extra).map_err(|e| encode_err(Some(e)))?;
    Ok(EncodedBeat {
        name,
        movement_index: *movement_index,
        movement,
        beat_index: *beat_index,
        started_at: ts_to_sql(*started_at)?,
        status: beat_status::encode(*status),
        duration_ms: int(*duration_ms, "duration_ms")?,
        cpu_user_ms: int(*cpu_user_ms, "cpu_user_ms")?,
        cpu_sys_ms: int(*cpu_sys_ms, "cpu_sys_ms")?,
        peak_rss_bytes: int(*peak_rss_bytes, "peak_rss_bytes")?,
        cache_state: cache_state::encode(*cache_state),
        sla_status: sla_status::encode(*overall_status),
        hash: HashSql::new(hash),
        prev_hash: previous_hash.as_deref().map(HashSql::new),
        evolved: *evolved,
        extra: start..json.len(),
    })
}

/// Bind an encoded beat to [`INSERT_BEAT`] as row `id` and run it. `json` is the
/// buffer [`encode_beat`] wrote into.
pub(crate) fn insert_encoded(
    stmt: &mut Statement<'_>,
    id: i64,
    beat: &EncodedBeat<'_>,
    json: &[u8],
) -> Result<()> {
    let fail = || format!("record beat '{}'", beat.name);
    // serde_json writes UTF-8; bound as text so that SQL's json functions read it.
    let extra = json
        .get(beat.extra.clone())
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .ok_or_else(|| StoreError::Encode {
            what: fail(),
            source: None,
        })?;
    stmt.execute(params![
        id,
        beat.movement_index,
        beat.movement,
        beat.beat_index,
        beat.started_at,
        beat.status,
        beat.duration_ms,
        beat.cpu_user_ms,
        beat.cpu_sys_ms,
        beat.peak_rss_bytes,
        beat.cache_state,
        beat.sla_status,
        beat.hash,
        beat.prev_hash,
        beat.evolved,
        extra,
    ])
    .ctx(fail)?;
    Ok(())
}

/// Columns [`beat_from_row`] reads, for [`BEAT_FROM`].
pub(crate) const BEAT_COLUMNS: &str = "r.run_id, s.beat, b.movement_index, b.movement,
    b.beat_index, b.started_at, b.status, b.duration_ms, b.cpu_user_ms, b.cpu_sys_ms,
    b.peak_rss_bytes, b.cache_state, b.sla_status, b.shape_hash, b.prev_shape_hash,
    b.evolved, b.extra, r.label";

/// The joins [`BEAT_COLUMNS`] needs.
pub(crate) const BEAT_FROM: &str =
    "FROM beats b JOIN runs r ON r.id = b.id >> 20 JOIN series s ON s.id = b.id & 1048575";

/// A beat record from a row selected with [`BEAT_COLUMNS`].
pub(crate) fn beat_from_row(row: &Row<'_>) -> Result<BeatRecord> {
    let sql = |e| StoreError::Sqlite {
        action: "read a beat record".into(),
        source: e,
    };
    let get_i64 = |i: usize| -> Result<i64> { row.get::<_, i64>(i).map_err(sql) };
    let get_u64 = |i: usize, what: &str| -> Result<u64> { uint(get_i64(i)?, what) };
    let run_id: String = row.get(0).map_err(sql)?;
    let beat: String = row.get(1).map_err(sql)?;
    let json = match row.get_ref(16).map_err(sql)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => t,
        _ => {
            return Err(StoreError::corrupt(format!(
                "beat '{beat}' of run {run_id}"
            )));
        }
    };
    let extra: Extra<'_> = serde_json::from_slice(json).map_err(|e| StoreError::Corrupt {
        what: format!("beat '{beat}' of run {run_id}"),
        source: Some(Box::new(e)),
    })?;
    let Extra {
        beat_type,
        level,
        reason,
        exit_code,
        signal,
        attempts,
        duration_bucket,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        tests,
        cost_usd,
        metrics,
        slo_duration_ns,
        slo_errors,
        slo_cache_hit_rate,
        sla_duration,
        sla_ratio,
        sla_breach_percent,
        sla_errors,
        sla_cache,
        sla_cache_hit_rate,
        canonical,
        canonical_suffix,
        log_path,
        log_dir,
        rollback,
    } = extra;
    let hash_at =
        |i: usize| -> Result<Option<String>> { hash_from_sql(row.get_ref(i).map_err(sql)?) };

    let movement_index = uint(get_i64(2)?, "movement index")?;
    let movement: String = row.get(3).map_err(sql)?;
    let beat_index = uint(get_i64(4)?, "beat index")?;
    let status = beat_status::decode(get_i64(6)?)?;
    let canonical = match (canonical, canonical_suffix) {
        (Some(full), _) => full.into_owned(),
        (None, suffix) => {
            canonical_prefix(movement_index, beat_index, &duration_bucket, status)
                + suffix.as_deref().unwrap_or_default()
        }
    };
    let log_path = match (log_path, log_dir) {
        (Some(path), _) => Some(path.into_owned()),
        (None, Some(dir)) => {
            let label: String = row.get(17).map_err(sql)?;
            Some(format!(
                "{dir}/{}",
                baton_model::layout::beat_log_tail(&label, &movement, &beat)
            ))
        }
        (None, None) => None,
    };
    Ok(BeatRecord {
        run_id: run_id
            .parse::<Uuid>()
            .map_err(|_| StoreError::corrupt(format!("run id '{run_id}'")))?,
        movement_index,
        movement,
        beat_index,
        beat,
        beat_type,
        level,
        started_at: ts_from_sql(get_i64(5)?)?,
        status,
        reason: reason.map(Cow::into_owned),
        exit_code,
        signal,
        attempts,
        duration_ms: get_u64(7, "duration_ms")?,
        duration_bucket: duration_bucket.into_owned(),
        cpu_user_ms: get_u64(8, "cpu_user_ms")?,
        cpu_sys_ms: get_u64(9, "cpu_sys_ms")?,
        peak_rss_bytes: get_u64(10, "peak_rss_bytes")?,
        artifacts_count,
        artifacts_bytes,
        errors_count,
        cache_state: cache_state::decode(get_i64(11)?)?,
        tests,
        cost_usd,
        metrics: metrics.into_owned(),
        slo: SloTarget {
            duration: Duration::from_nanos(slo_duration_ns),
            errors: slo_errors,
            cache_hit_rate: slo_cache_hit_rate,
        },
        sla: SlaVerdict {
            overall_status: sla_status::decode(get_i64(12)?)?,
            duration_status: sla_duration,
            duration_ratio: sla_ratio,
            duration_breach_percent: sla_breach_percent,
            errors_status: sla_errors,
            cache_status: sla_cache,
            cache_hit_rate: sla_cache_hit_rate,
        },
        shape: Shape {
            hash: hash_at(13)?.ok_or_else(|| StoreError::corrupt("a missing shape hash"))?,
            canonical,
            previous_hash: hash_at(14)?,
            evolved: row.get(15).map_err(sql)?,
        },
        log_path,
        rollback,
    })
}

/// The run columns every run query selects, for `FROM runs r`.
pub(crate) const RUN_COLUMNS: &str = "r.record, r.status, r.heartbeat_at";

/// A run record from a row selected with [`RUN_COLUMNS`] starting at column `at`,
/// with the stored heartbeat and the status readers see (abandoned when a running
/// run's heartbeat is older than `cutoff`).
pub(crate) fn run_from_row(row: &Row<'_>, at: usize, cutoff: i64) -> Result<RunRecord> {
    let sql = |e| StoreError::Sqlite {
        action: "read a run record".into(),
        source: e,
    };
    let json: String = row.get(at).map_err(sql)?;
    let status: String = row.get(at + 1).map_err(sql)?;
    let heartbeat: i64 = row.get(at + 2).map_err(sql)?;
    let mut run =
        RunRecord::deserialize(&mut serde_json::Deserializer::from_str(&json)).map_err(|e| {
            StoreError::Corrupt {
                what: "a run record".into(),
                source: Some(Box::new(e)),
            }
        })?;
    run.status = status
        .parse()
        .map_err(|_| StoreError::corrupt(format!("run status '{status}'")))?;
    run.heartbeat_at = ts_from_sql(heartbeat)?;
    if run.status == RunStatus::Running && heartbeat < cutoff {
        run.status = RunStatus::Abandoned;
    }
    Ok(run)
}

/// Column values of a run row, in the order of [`UPSERT_RUN`].
pub(crate) fn run_params(run: &RunRecord) -> Result<[Value; 9]> {
    let record = serde_json::to_string(run).map_err(|e| StoreError::Encode {
        what: format!("run {}", run.run_id),
        source: Some(e),
    })?;
    Ok([
        Value::Text(run.run_id.hyphenated().to_string()),
        Value::Text(run.label.clone()),
        Value::Text(run.pipeline_id.clone()),
        Value::Text(run.pipeline_name.clone()),
        Value::Text(run.status.as_str().to_owned()),
        Value::Integer(ts_to_sql(run.started_at)?),
        match run.finished_at {
            Some(t) => Value::Integer(ts_to_sql(t)?),
            None => Value::Null,
        },
        Value::Integer(ts_to_sql(run.heartbeat_at)?),
        Value::Text(record),
    ])
}

/// Insert a run, or update it when its id is already stored. An upsert keeps the
/// row id, so its beats stay attached; the heartbeat never goes backwards.
pub(crate) const UPSERT_RUN: &str = "INSERT INTO runs
    (run_id, label, pipeline_id, pipeline_name, status, started_at, finished_at,
     heartbeat_at, record)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (run_id) DO UPDATE SET
        label = excluded.label, pipeline_id = excluded.pipeline_id,
        pipeline_name = excluded.pipeline_name, status = excluded.status,
        started_at = excluded.started_at, finished_at = excluded.finished_at,
        heartbeat_at = max(heartbeat_at, excluded.heartbeat_at), record = excluded.record";

/// SQL for "the status readers see" over `runs r`, the cutoff bound as `?N`.
pub(crate) fn status_condition(status: RunStatus, cutoff_param: usize) -> String {
    let p = cutoff_param;
    match status {
        RunStatus::Running => format!("(r.status = 'running' AND r.heartbeat_at >= ?{p})"),
        RunStatus::Abandoned => {
            format!("(r.status = 'abandoned' OR (r.status = 'running' AND r.heartbeat_at < ?{p}))")
        }
        other => format!("r.status = '{}'", other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn conventional_log_paths_keep_only_their_directory() {
        let label = "build-20260101-101010";
        let path = format!("/w/.baton/logs/{label}/build/compile.log");
        assert_eq!(
            log_dir(&path, label, "build", "compile"),
            Some("/w/.baton/logs")
        );
        assert_eq!(log_dir(&path, label, "build", "link"), None);
        assert_eq!(log_dir(&path, "other", "build", "compile"), None);
        assert_eq!(
            log_dir(
                &format!("{label}/build/compile.log"),
                label,
                "build",
                "compile"
            ),
            None
        );
    }

    #[test]
    fn canonical_suffix_only_when_the_prefix_is_exactly_the_columns() {
        let ok = Some("a0:eclean:mem<50MB:hit");
        let suffix = |c| canonical_suffix(c, 1, 20, "1-5s", BeatStatus::Success);
        assert_eq!(suffix("m1:b20:1-5s:success:a0:eclean:mem<50MB:hit"), ok);
        assert_eq!(suffix("m01:b20:1-5s:success:a0:eclean:mem<50MB:hit"), None);
        assert_eq!(suffix("m+1:b20:1-5s:success:x"), None);
        assert_eq!(suffix("m1:b2:1-5s:success:x"), None);
        assert_eq!(suffix("m1:b20:<1s:success:x"), None);
        assert_eq!(suffix("m1:b20:1-5s:failure:x"), None);
        assert_eq!(suffix("m1:b20:1-5s:success:"), Some(""));
        let zero = canonical_suffix("m0:b0:<1s:skipped:x", 0, 0, "<1s", BeatStatus::Skipped);
        assert_eq!(zero, Some("x"));
    }

    #[test]
    fn codes_round_trip() {
        for s in [
            BeatStatus::Success,
            BeatStatus::Failure,
            BeatStatus::Timeout,
            BeatStatus::Cancelled,
            BeatStatus::Skipped,
        ] {
            assert_eq!(
                beat_status::decode(beat_status::encode(s)).expect("decode"),
                s
            );
        }
        assert!(beat_status::decode(9).is_err());
        // SLA codes keep the model's order, so MAX() in SQL is the worst status.
        assert!(sla_status::encode(SlaStatus::Critical) > sla_status::encode(SlaStatus::Breach));
    }
}
