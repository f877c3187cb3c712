//! Records to columns and back.
//!
//! A beat row holds what is queried or filtered in columns (enums as small integer
//! codes, times as nanoseconds since the epoch, shape hashes as 32-byte blobs when
//! they are lowercase SHA-256 hex, text otherwise) and the rest of the record as
//! short-keyed JSON in `extra`. A reloaded record equals the stored one; a row takes
//! about 300 bytes on disk and is cheap to insert. A run keeps its whole
//! [`RunRecord`](baton_model::RunRecord) as JSON beside the columns it is filtered by.
//!
//! - [`beat_encode`] and [`beat_decode`]: a beat record to its row and back (columns
//!   are read by name);
//! - [`run_row`]: a run record to its row and back;
//! - [`extra`]: the `extra` JSON;
//! - [`canonical`] and [`log_path`]: the two values `extra` stores only the part of
//!   that the columns do not already say;
//! - [`codes`]: the integer codes of enums; [`values`]: times, counts, hashes;
//! - [`row_id`]: how a beat's row id packs its run and series.
//!
//! The record types are destructured without `..` and enum codes matched
//! exhaustively: a field or variant added to the model stops the build here until
//! it has a place (a key in `extra` needs no migration; a column does).

mod beat_decode;
mod beat_encode;
mod canonical;
mod codes;
mod extra;
mod log_path;
mod row_id;
mod run_row;
mod values;

pub(crate) use beat_decode::{BEAT_COLUMNS, BEAT_FROM, BeatColumns, beat_from_row};
pub(crate) use beat_encode::{EncodedBeat, INSERT_BEAT, encode_beat, insert_encoded};
pub(crate) use codes::{beat_status, cache_state, sla_status};
pub(crate) use row_id::{SERIES_BITS, beat_row_id, beats_of_run};
pub(crate) use run_row::{RUN_COLUMNS, UPSERT_RUN, run_from_row, run_params, status_condition};
pub(crate) use values::{
    HashSql, abandoned_cutoff, hash_from_sql, identity_from_sql, ts_from_sql, ts_to_sql,
};
