//! Judges each beat against its history (the anomaly rules, over the outcomes
//! loaded with the run's history hints: no store query per beat) and writes its
//! telemetry file as soon as it finishes, while the next beats run; the run's
//! report file is written once the run is over (`baton run`).
//! Shadow principle: the first failure is warned about once and the run goes on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_analysis::Anomaly;
use baton_model::{BeatRecord, BeatStatus, RunEvent, RunRecord};

use super::Consumer;
use crate::history::History;

pub struct TelemetryFiles {
    /// The telemetry root (`.baton/telemetry`).
    dir: PathBuf,
    /// Each beat's latest outcomes before this run, in its history hints; a beat
    /// without any has no anomalies.
    history: Arc<History>,
    run: Option<RunRecord>,
    anomalies: HashMap<String, Vec<Anomaly>>,
    /// The first failure to write a file, for `--strict` and the end-of-run note.
    failure: Option<String>,
}

impl TelemetryFiles {
    pub fn new(dir: PathBuf, history: Arc<History>) -> Self {
        Self {
            dir,
            history,
            run: None,
            anomalies: HashMap::new(),
            failure: None,
        }
    }

    /// The anomalies found, in the order of `records`, and the first failure to
    /// write a beat's file.
    pub fn finish(mut self, records: &[BeatRecord]) -> (Vec<Anomaly>, Option<String>) {
        let anomalies = records
            .iter()
            .filter_map(|r| self.anomalies.remove(&r.beat))
            .flatten()
            .collect();
        (anomalies, self.failure)
    }

    fn beat_finished(&mut self, record: &BeatRecord) {
        let Some(run) = &self.run else {
            return;
        };
        let anomalies = match self.history.hints_of(&record.beat) {
            Some(hints) if record.status != BeatStatus::Skipped => {
                baton_analysis::detect_before(record, &hints.recent_outcomes)
            }
            _ => Vec::new(),
        };
        let refs: Vec<&Anomaly> = anomalies.iter().collect();
        let written = baton_report::telemetry_files::write_beat(&self.dir, run, record, &refs);
        self.note(written);
        if !anomalies.is_empty() {
            self.anomalies.insert(record.beat.clone(), anomalies);
        }
    }

    /// Writes a beat's file again, now with its rollback.
    fn rolled_back(&mut self, record: &BeatRecord) {
        let Some(run) = &self.run else {
            return;
        };
        let refs: Vec<&Anomaly> = self
            .anomalies
            .get(&record.beat)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let written = baton_report::telemetry_files::write_beat(&self.dir, run, record, &refs);
        self.note(written);
    }

    fn note<E: std::fmt::Display>(&mut self, written: Result<(), E>) {
        if let Err(err) = written
            && self.failure.is_none()
        {
            eprintln!(
                "baton: warning: telemetry files not written to {}: {err}",
                self.dir.display()
            );
            self.failure = Some(err.to_string());
        }
    }
}

impl Consumer for TelemetryFiles {
    fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run, .. } => self.run = Some(run.clone()),
            RunEvent::BeatFinished { record } => self.beat_finished(record),
            RunEvent::RollbackFinished { record } => self.rolled_back(record),
            _ => {}
        }
    }
}
