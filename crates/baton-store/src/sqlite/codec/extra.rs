//! The compact JSON kept in a beat row's `extra` column: every part of a record
//! that is read back but never filtered on, under short keys and absent when empty
//! (it is written a million times). Non-finite floats, which JSON lacks, are
//! written as the strings "NaN", "inf" and "-inf".

use std::borrow::Cow;
use std::collections::BTreeMap;

use baton_model::{AttemptRecord, BeatType, Level, RollbackRecord, SlaStatus, TestCounts};
use serde::{Deserialize, Serialize};

/// The `extra` JSON of one beat row.
#[derive(Serialize, Deserialize)]
pub(super) struct Extra<'a> {
    #[serde(rename = "t")]
    pub(super) beat_type: BeatType,
    #[serde(rename = "l", default, skip_serializing_if = "is_default")]
    pub(super) level: Level,
    #[serde(rename = "r", borrow, default, skip_serializing_if = "Option::is_none")]
    pub(super) reason: Option<Cow<'a, str>>,
    #[serde(rename = "x", default, skip_serializing_if = "Option::is_none")]
    pub(super) exit_code: Option<i32>,
    #[serde(rename = "sg", default, skip_serializing_if = "Option::is_none")]
    pub(super) signal: Option<i32>,
    #[serde(rename = "a", default = "one", skip_serializing_if = "is_one")]
    pub(super) attempts: u32,
    #[serde(rename = "db", borrow)]
    pub(super) duration_bucket: Cow<'a, str>,
    #[serde(rename = "ac", default, skip_serializing_if = "is_default")]
    pub(super) artifacts_count: u64,
    #[serde(rename = "ab", default, skip_serializing_if = "is_default")]
    pub(super) artifacts_bytes: u64,
    #[serde(rename = "ec", default, skip_serializing_if = "is_default")]
    pub(super) errors_count: u64,
    #[serde(rename = "ts", default, skip_serializing_if = "Option::is_none")]
    pub(super) tests: Option<TestCounts>,
    #[serde(
        rename = "cu",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    pub(super) cost_usd: Option<f64>,
    #[serde(
        rename = "m",
        default,
        skip_serializing_if = "is_empty",
        with = "real_map"
    )]
    pub(super) metrics: Cow<'a, BTreeMap<String, f64>>,
    #[serde(rename = "sd")]
    pub(super) slo_duration_ns: u64,
    #[serde(rename = "se", default, skip_serializing_if = "is_default")]
    pub(super) slo_errors: u32,
    #[serde(
        rename = "sc",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    pub(super) slo_cache_hit_rate: Option<f64>,
    #[serde(
        rename = "so",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    pub(super) slo_objective: Option<f64>,
    #[serde(rename = "vd", default, skip_serializing_if = "is_default")]
    pub(super) sla_duration: SlaStatus,
    #[serde(rename = "vr", with = "real")]
    pub(super) sla_ratio: f64,
    #[serde(rename = "vp", with = "real")]
    pub(super) sla_breach_percent: f64,
    #[serde(rename = "ve", default, skip_serializing_if = "is_default")]
    pub(super) sla_errors: SlaStatus,
    #[serde(rename = "vc", default, skip_serializing_if = "is_default")]
    pub(super) sla_cache: SlaStatus,
    #[serde(
        rename = "vh",
        default,
        skip_serializing_if = "Option::is_none",
        with = "opt_real"
    )]
    pub(super) sla_cache_hit_rate: Option<f64>,
    /// The shape's canonical string, or only what follows the part the columns
    /// already say (`m{movement}:b{beat}:{bucket}:{status}:`) when it starts so.
    #[serde(rename = "c", borrow, default, skip_serializing_if = "Option::is_none")]
    pub(super) canonical: Option<Cow<'a, str>>,
    #[serde(
        rename = "cs",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) canonical_suffix: Option<Cow<'a, str>>,
    /// Its rollback, when one ran (rare: the record is written again with it).
    #[serde(rename = "rb", default, skip_serializing_if = "Option::is_none")]
    pub(super) rollback: Option<RollbackRecord>,
    /// Each attempt, when the beat was retried (absent in records written before
    /// attempts were kept).
    #[serde(rename = "at", default, skip_serializing_if = "is_empty_slice")]
    pub(super) attempt_log: Cow<'a, [AttemptRecord]>,
    /// The log path, or only its directory when it is the conventional
    /// `{dir}/{run label}/{movement}/{beat}.log`.
    #[serde(
        rename = "lp",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) log_path: Option<Cow<'a, str>>,
    #[serde(
        rename = "ld",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) log_dir: Option<Cow<'a, str>>,
    /// The label of the run a restored beat came from.
    #[serde(
        rename = "rf",
        borrow,
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub(super) restored_from: Option<Cow<'a, str>>,
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

#[allow(clippy::ptr_arg)] // serde passes the field's own type
fn is_empty_slice(v: &Cow<'_, [AttemptRecord]>) -> bool {
    v.is_empty()
}

#[allow(clippy::ptr_arg)] // serde passes the field's own type
fn is_empty(m: &Cow<'_, BTreeMap<String, f64>>) -> bool {
    m.is_empty()
}

/// JSON has no NaN or infinity (serde_json would write `null` and fail to read it
/// back): those are written as the strings "NaN", "inf", "-inf".
mod real {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
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

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
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
    pub(super) struct Real(#[serde(with = "self")] pub f64);
}

mod opt_real {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::real::Real;

    pub(super) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        v.map(Real).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Real>::deserialize(d)?.map(|r| r.0))
    }
}

mod real_map {
    use std::borrow::Cow;
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::real::Real;

    #[allow(clippy::ptr_arg)] // serde passes the field's own type
    pub(super) fn serialize<S: Serializer>(
        m: &Cow<'_, BTreeMap<String, f64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(m.iter().map(|(k, v)| (k, Real(*v))))
    }

    pub(super) fn deserialize<'de, 'a, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Cow<'a, BTreeMap<String, f64>>, D::Error> {
        let raw = BTreeMap::<String, Real>::deserialize(d)?;
        Ok(Cow::Owned(raw.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }
}
