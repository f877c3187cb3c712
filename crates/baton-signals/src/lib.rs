//! What baton's reading commands show, computed once for every front end (the
//! `baton` verbs and `baton serve`).
//!
//! The cross-run signals, computed from a history read as series
//! ([`baton_store::SeriesSet`]) with the statistics of [`baton_analysis`] and put
//! into the documents [`baton_report`] prints:
//!
//! - [`regressions`]: change points of each beat's durations (`baton regressions`);
//! - [`flaky`]: flaky and broken beats (`baton flaky`);
//! - [`budgets`]: each beat's SLO error budget (`baton budget`);
//! - [`trends`]: per period and per beat figures, and the slowest beats (`baton
//!   trends`, `baton slowest`);
//! - [`summary`]: the regression a `baton run` just revealed, for its summary;
//! - [`run_view`]: a run's report and HTML page, and the rows of `baton history`.
//!
//! docs/signals.md describes the methods and their defaults.

pub mod budgets;
pub mod flaky;
pub mod regressions;
pub mod run_view;
pub mod summary;
pub mod trends;

use std::collections::HashMap;

use baton_report::regressions::RunRef;
use baton_store::SeriesSet;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use uuid::Uuid;

/// A run of `set`, named for a report, with its commit when known.
pub fn run_ref(set: &SeriesSet, run: u32, commits: &HashMap<Uuid, String>) -> RunRef {
    match set.runs.get(run as usize) {
        Some(r) => RunRef {
            run_id: r.run_id,
            label: r.label.clone(),
            started_at: r.started_at,
            commit: commits.get(&r.run_id).cloned(),
        },
        None => RunRef {
            run_id: Uuid::nil(),
            label: String::new(),
            started_at: Timestamp::UNIX_EPOCH,
            commit: None,
        },
    }
}

/// The local time zone, which days and weeks follow. Without `TZ`,
/// `/etc/localtime` is read directly (see the run command's labels).
pub fn local_time_zone() -> TimeZone {
    if std::env::var_os("TZ").is_none()
        && let Ok(data) = std::fs::read("/etc/localtime")
        && let Ok(tz) = TimeZone::tzif("localtime", &data)
    {
        return tz;
    }
    TimeZone::system()
}

/// The start of the window of the last `days` days before `now`.
pub fn window_start(now: Timestamp, days: u64) -> Timestamp {
    let seconds = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX);
    now.checked_sub(jiff::SignedDuration::from_secs(seconds))
        .unwrap_or(Timestamp::MIN)
}
