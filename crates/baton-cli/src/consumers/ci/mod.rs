//! baton's findings on the CI page: on GitHub Actions (`GITHUB_ACTIONS=true`),
//! an annotation per failed beat, SLA breach, regression and flaky beat, the job
//! summary, and the run's id, label and status in `$GITHUB_OUTPUT`; on GitLab,
//! collapsible sections ([`gitlab`]). A consumer of the run's events for `run`
//! and `exec` alike; like every consumer it never changes the run's outcome (a
//! file it cannot write is one warning).

pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod summary;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use baton_model::{BeatRecord, Pipeline, RunEvent, SlaStatus};
use baton_report::RunReport;
use baton_store::HistoryStore;

use super::Consumer;
use github::{Annotation, Level};

/// Lines of a failed beat's log an annotation and the summary show.
const TAIL_LINES: usize = 20;
/// The most of a log's end read to find them.
const TAIL_BYTES: u64 = 16 * 1024;

pub(crate) struct CiPage {
    /// Annotations and outputs are written (GitHub Actions).
    github: bool,
    /// Annotations go to stderr (`exec`: stdout is the command's).
    to_stderr: bool,
    /// The pipeline file as annotations name it, and where to read it.
    file: Option<(String, PathBuf)>,
    /// Where relative log paths are.
    root: PathBuf,
    /// `(beat, log tail)` of the failed beats, for the summary.
    tails: Vec<(String, String)>,
    /// The job summary is written (not by a call of a run that goes on: the
    /// run's `--finish` writes it whole).
    summary: bool,
    /// The beats' SLO objectives, for the budget state in the summary.
    objectives: crate::signals::budgets::Objectives,
}

impl CiPage {
    /// For `baton run`: annotations on stdout, pointing into the pipeline file.
    pub(crate) fn for_run(pipeline: &Pipeline) -> Self {
        let source = std::fs::canonicalize(&pipeline.source).unwrap_or(pipeline.source.clone());
        let shown = workspace_relative(&source);
        Self {
            file: Some((shown, source)),
            to_stderr: false,
            ..Self::new(pipeline)
        }
    }

    /// For `baton exec`: annotations on stderr, no file to point into.
    pub(crate) fn for_exec(pipeline: &Pipeline) -> Self {
        Self::new(pipeline)
    }

    fn new(pipeline: &Pipeline) -> Self {
        Self {
            github: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            to_stderr: true,
            file: None,
            root: pipeline.root.clone(),
            tails: Vec::new(),
            summary: true,
            objectives: crate::signals::budgets::Objectives::of(pipeline),
        }
    }

    /// Leaves the job summary to whoever ends the run.
    pub(crate) fn without_summary(mut self) -> Self {
        self.summary = false;
        self
    }

    fn emit(&self, annotation: &Annotation) {
        let command = annotation.command();
        let _ = if self.to_stderr {
            std::io::stderr().lock().write_all(command.as_bytes())
        } else {
            std::io::stdout().lock().write_all(command.as_bytes())
        };
    }

    fn annotation(&self, level: Level, title: String, message: String, beat: &str) -> Annotation {
        let (file, line) = match &self.file {
            Some((shown, path)) => (Some(shown.clone()), beat_line(path, beat)),
            None => (None, None),
        };
        Annotation {
            level,
            title,
            message,
            file,
            line,
        }
    }

    fn beat_finished(&mut self, record: &BeatRecord) {
        if record.status.is_failure() {
            let tail = record
                .log_path
                .as_deref()
                .map(|p| log_tail(&self.root.join(p)))
                .unwrap_or_default();
            let mut message = match (record.exit_code, record.signal) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                (None, None) => record.status.to_string(),
            };
            if let Some(reason) = &record.reason {
                message.push_str(&format!(": {reason}"));
            }
            if !tail.is_empty() {
                message.push('\n');
                message.push_str(&tail);
            }
            let title = format!("beat '{}' failed", record.beat);
            let annotation = self.annotation(Level::Error, title, message, &record.beat);
            self.emit(&annotation);
            self.tails.push((record.beat.clone(), tail));
        } else if record.sla.overall_status >= SlaStatus::Breach && record.status.is_judged() {
            let title = format!("beat '{}' broke its SLA", record.beat);
            let message = format!(
                "{}: took {} ms against an SLO of {} ms ({:+.0}%)",
                record.sla.overall_status,
                record.duration_ms,
                record.slo.duration.as_millis(),
                record.sla.duration_breach_percent
            );
            let annotation = self.annotation(Level::Warning, title, message, &record.beat);
            self.emit(&annotation);
        }
        if record.status == baton_model::BeatStatus::Success && record.attempts > 1 {
            let title = format!("beat '{}' is flaky", record.beat);
            let message = format!("it passed on attempt {}", record.attempts);
            let annotation = self.annotation(Level::Notice, title, message, &record.beat);
            self.emit(&annotation);
        }
    }

    /// Once the run (or `exec`'s beat) is recorded: the regressions and flaky
    /// beats it revealed, the job summary and the outputs.
    pub(crate) fn finish(&mut self, report: &RunReport, store: Option<&dyn HistoryStore>) {
        let summary_path = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|_| self.summary);
        if !self.github && summary_path.is_none() {
            return;
        }
        let mut extras = summary::Extras {
            tails: std::mem::take(&mut self.tails),
            ..summary::Extras::default()
        };
        // Beats this process did not see end (`exec --finish`): read from their logs.
        for beat in report.beats.iter().filter(|b| b.status.is_failure()) {
            if !extras.tails.iter().any(|(name, _)| *name == beat.beat) {
                let tail = beat
                    .log_path
                    .as_deref()
                    .map(|p| log_tail(&self.root.join(p)));
                extras
                    .tails
                    .push((beat.beat.clone(), tail.unwrap_or_default()));
            }
        }
        if let Some(store) = store
            && let Ok(lines) =
                crate::signals::summary::regression_lines(store, &report.run, &report.beats)
        {
            extras.regressions = lines;
        }
        if let Some(store) = store {
            extras.budget = self.budget_state(store, &report.run.pipeline_id);
        }
        for record in report
            .beats
            .iter()
            .filter(|b| b.attempts > 1 && b.status.is_judged())
        {
            if record.status == baton_model::BeatStatus::Success {
                extras.flaky.push(format!(
                    "{}: passed on attempt {}",
                    record.beat, record.attempts
                ));
            }
        }
        for anomaly in &report.anomalies {
            if anomaly.rule == baton_analysis::AnomalyRule::LowSuccessRate {
                extras
                    .flaky
                    .push(format!("{}: {}", anomaly.beat, anomaly.message));
            }
        }
        if self.github {
            for line in &extras.regressions {
                let beat = line
                    .strip_prefix("regression ")
                    .and_then(|l| l.split(':').next())
                    .unwrap_or("");
                let annotation = self.annotation(
                    Level::Warning,
                    format!("beat '{beat}' got slower"),
                    line.clone(),
                    beat,
                );
                self.emit(&annotation);
            }
            self.write_outputs(report);
        }
        if let Some(path) = summary_path {
            append_summary(Path::new(&path), report, &extras);
        }
    }

    /// The pipeline's SLO budgets over the default window, this run included: a
    /// line for the whole, then each beat exhausted or low. Nothing when the
    /// history cannot be read.
    fn budget_state(&self, store: &dyn HistoryStore, pipeline_id: &str) -> Vec<String> {
        use crate::signals::budgets;
        let days = budgets::DEFAULT_DAYS;
        let query = baton_store::SeriesQuery {
            pipeline: Some(pipeline_id.to_owned()),
            since: Some(crate::signals::window_start(jiff::Timestamp::now(), days)),
            ..baton_store::SeriesQuery::default()
        };
        let Ok(set) = store.beat_series(&query) else {
            return Vec::new();
        };
        let doc = budgets::document(&set, days, Some(&self.objectives));
        let Some(pipeline) = doc.pipelines.first() else {
            return Vec::new();
        };
        let mut lines = vec![format!("Over {days} days: {}", pipeline.summary())];
        for beat in pipeline.at_risk() {
            lines.push(format!(
                "`{}`: {}",
                summary::inline_code(&beat.beat),
                baton_report::budget::describe(&beat.budget)
            ));
        }
        lines
    }

    fn write_outputs(&self, report: &RunReport) {
        let Some(path) = std::env::var_os("GITHUB_OUTPUT") else {
            return;
        };
        let status = match report.run.status {
            // A call of a run that goes on: its beat's status says how it went.
            baton_model::RunStatus::Running => report
                .beats
                .first()
                .map_or("running".to_owned(), |b| b.status.to_string()),
            status => status.to_string(),
        };
        let lines = github::output_lines(&[
            ("run-id", report.run.run_id.to_string()),
            ("run-label", report.run.label.clone()),
            ("status", status),
        ]);
        if let Err(err) = append(Path::new(&path), lines.as_bytes()) {
            crate::notice::warning(format!("failed to append to GITHUB_OUTPUT: {err}"));
        }
    }
}

impl Consumer for CiPage {
    fn handle(&mut self, event: &RunEvent) {
        if let RunEvent::BeatFinished { record } = event
            && (self.github || std::env::var_os("GITHUB_STEP_SUMMARY").is_some())
        {
            if self.github {
                self.beat_finished(record);
            } else if record.status.is_failure() {
                let tail = record
                    .log_path
                    .as_deref()
                    .map(|p| log_tail(&self.root.join(p)))
                    .unwrap_or_default();
                self.tails.push((record.beat.clone(), tail));
            }
        }
    }
}

/// Appends the summary, cut to what the step's 1 MiB still allows.
fn append_summary(path: &Path, report: &RunReport, extras: &summary::Extras) {
    let used = std::fs::metadata(path).map_or(0, |m| m.len());
    let budget = summary::SUMMARY_LIMIT.saturating_sub(usize::try_from(used).unwrap_or(usize::MAX));
    let text = summary::fit(summary::render(report, extras), budget, &report.run.label);
    if let Err(err) = append(path, text.as_bytes()) {
        crate::notice::warning(format!("failed to append to GITHUB_STEP_SUMMARY: {err}"));
    }
}

fn append(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?
        .write_all(bytes)
}

/// The last [`TAIL_LINES`] lines of a log (already masked), read from its end.
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    if file
        .seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
        .is_err()
    {
        return String::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(TAIL_LINES);
    lines[from..].join("\n")
}

/// The file relative to `GITHUB_WORKSPACE` (what annotations need to land on
/// the file in the diff), else as it is.
fn workspace_relative(path: &Path) -> String {
    std::env::var_os("GITHUB_WORKSPACE")
        .and_then(|ws| std::fs::canonicalize(ws).ok())
        .and_then(|ws| path.strip_prefix(ws).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// The line (1-based) of the pipeline file where beat `name` is declared: the
/// first `name: <name>` entry, quoted or not.
fn beat_line(file: &Path, name: &str) -> Option<usize> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .position(|line| {
            let line = line
                .trim_start()
                .trim_start_matches("- ")
                .trim_start_matches('{')
                .trim();
            line.split(',').any(|part| {
                part.trim()
                    .strip_prefix("name:")
                    .map(|v| v.trim().trim_matches(['"', '\'', '}']).trim())
                    == Some(name)
            })
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_is_found_on_its_line_block_or_flow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("baton.yaml");
        std::fs::write(
            &file,
            "movements:\n  - name: a\n    beats:\n      - { name: ok, run: 'true' }\n      - name: \"bad one\"\n        run: exit 3\n",
        )
        .expect("write");
        assert_eq!(beat_line(&file, "ok"), Some(4));
        assert_eq!(beat_line(&file, "bad one"), Some(5));
        assert_eq!(beat_line(&file, "missing"), None);
    }

    #[test]
    fn the_log_tail_is_its_last_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("x.log");
        let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, text).expect("write");
        let tail = log_tail(&log);
        assert!(
            tail.starts_with("line 11\n") && tail.ends_with("line 30"),
            "{tail}"
        );
        assert_eq!(log_tail(&dir.path().join("none")), "");
    }
}
