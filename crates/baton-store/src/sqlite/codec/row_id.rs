//! A beat's row id packs its run's row id and its series (the beat's name within
//! its pipeline): `run << 20 | series`, so a run's beats are one range of ids.

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
