//! `baton export [--pipeline NAME|ID | --all] [--since DATE|AGE] [-o FILE]`: the
//! history as JSON Lines, one run per line (the object `baton show RUN --format
//! json` prints), oldest first, read from the store a page at a time.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use baton_model::{RUN_DOCUMENT_VERSION, RunDocument};
use baton_store::{HistoryStore, RunPageFilter};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::reading;
use crate::cli::ExportArgs;
use crate::exit::Exit;

/// Runs read from the store at a time.
const PAGE_RUNS: usize = 500;

pub(crate) fn run(args: &ExportArgs) -> anyhow::Result<Exit> {
    let since = match &args.since {
        Some(text) => match parse_since(text, Timestamp::now()) {
            Ok(at) => Some(at),
            Err(why) => crate::usage_bail!("--since: {why}"),
        },
        None => None,
    };
    let history = reading::open(&args.store)?;
    let scope = reading::scope(&history, &args.scope)?;
    let filter = RunPageFilter {
        pipeline: scope.pipeline_id().map(str::to_owned),
        since,
    };
    let store = history.store.as_ref();
    match &args.output {
        None => {
            let mut out = BufWriter::new(io::stdout().lock());
            write_runs(store, &filter, &mut out)?;
            out.flush().context("failed to write the export")?;
        }
        Some(path) => {
            let (runs, beats) = write_file(store, &filter, path)?;
            crate::notice::emit(
                crate::notice::Kind::Note,
                format!(
                    "exported {runs} runs ({beats} beats) to {}",
                    baton_model::escape::escape_control(&path.display().to_string())
                ),
            );
        }
    }
    Ok(Exit::Success)
}

/// The export into `path`, which appears only complete (written beside it, then
/// renamed over it).
fn write_file(
    store: &dyn HistoryStore,
    filter: &RunPageFilter,
    path: &Path,
) -> anyhow::Result<(u64, u64)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fail = || format!("failed to write {}", path.display());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".baton-export-");
    // A file like any other the user writes (the umask applies), not a private one.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = builder.tempfile_in(dir).with_context(fail)?;
    let mut out = BufWriter::new(temp);
    let counts = write_runs(store, filter, &mut out)?;
    let temp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(fail)?;
    temp.persist(path).map_err(|e| e.error).with_context(fail)?;
    Ok(counts)
}

/// Every run `filter` selects, one JSON document a line; returns how many runs and
/// beats it wrote.
fn write_runs(
    store: &dyn HistoryStore,
    filter: &RunPageFilter,
    out: &mut impl Write,
) -> anyhow::Result<(u64, u64)> {
    let (mut runs, mut beats) = (0, 0);
    let mut after = None;
    loop {
        let page = store
            .runs_page(filter, after, PAGE_RUNS)
            .context("failed to read the history")?;
        for (run, run_beats) in page.runs {
            beats += run_beats.len() as u64;
            runs += 1;
            let document = RunDocument {
                format_version: RUN_DOCUMENT_VERSION,
                run,
                beats: run_beats,
            };
            serde_json::to_writer(&mut *out, &document).context("failed to write the export")?;
            out.write_all(b"\n").context("failed to write the export")?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok((runs, beats)),
        }
    }
}

/// `--since`: a date (`2026-11-01`, midnight UTC), an RFC 3339 time
/// (`2026-11-01T08:00:00+01:00`) or an age before `now` (`14d`, `36h`, `1h30m`).
pub(crate) fn parse_since(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    if let Ok(date) = text.parse::<Date>() {
        return date
            .to_zoned(TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("'{text}': {e}"));
    }
    let usage = || {
        format!(
            "'{text}' is not a date (2026-11-01), an RFC 3339 time (2026-11-01T08:00:00Z) \
             or an age (14d, 36h)"
        )
    };
    // A bare number is neither: say which unit.
    if text.parse::<f64>().is_ok() {
        return Err(usage());
    }
    let age = baton_config::parse_duration(text).map_err(|_| usage())?;
    jiff::SignedDuration::try_from(age)
        .ok()
        .and_then(|age| now.checked_sub(age).ok())
        .ok_or_else(|| format!("'{text}' reaches back before the year -9999"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_a_date_a_time_or_an_age() {
        let now: Timestamp = "2026-11-15T12:00:00Z".parse().unwrap();
        let at = |s: &str| parse_since(s, now);
        assert_eq!(
            at("2026-11-01"),
            Ok("2026-11-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            at("2026-11-01T08:00:00+01:00"),
            Ok("2026-11-01T07:00:00Z".parse().unwrap())
        );
        assert_eq!(at("14d"), Ok("2026-11-01T12:00:00Z".parse().unwrap()));
        assert_eq!(at("36h"), Ok("2026-11-14T00:00:00Z".parse().unwrap()));
        for bad in ["14", "yesterday", "2026-13-01", ""] {
            assert!(at(bad).is_err(), "{bad}");
        }
    }
}
