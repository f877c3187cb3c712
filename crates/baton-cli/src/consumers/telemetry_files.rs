//! Judges each beat against its history (the anomaly rules, over the outcomes
//! loaded with the run's history hints: no store query per beat) and writes its
//! telemetry file as soon as it finishes, while the next beats run; the run's
//! report file is written once the run is over (`baton run`).
//! Shadow principle: a failure is told to [`RecordingHealth`] and the run goes on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_analysis::Anomaly;
use baton_model::{AnomalySettings, BeatRecord, Recording, RunEvent, RunRecord};

use super::Consumer;
use super::health::RecordingHealth;
use crate::history::History;

pub(crate) struct TelemetryFiles {
    /// The telemetry root (`.baton/telemetry`).
    dir: PathBuf,
    /// Each beat's latest outcomes before this run, in its history hints; a beat
    /// without any has no anomalies.
    history: Arc<History>,
    /// The pipeline's tuning of the anomaly rules.
    settings: AnomalySettings,
    run: Option<RunRecord>,
    anomalies: HashMap<String, Vec<Anomaly>>,
    health: RecordingHealth,
}

impl TelemetryFiles {
    pub(crate) fn new(
        dir: PathBuf,
        history: Arc<History>,
        settings: AnomalySettings,
        health: RecordingHealth,
    ) -> Self {
        Self {
            dir,
            history,
            settings,
            run: None,
            anomalies: HashMap::new(),
            health,
        }
    }

    /// The anomalies found, in the order of `records`.
    pub(crate) fn finish(mut self, records: &[BeatRecord]) -> Vec<Anomaly> {
        records
            .iter()
            .filter_map(|r| self.anomalies.remove(&r.beat))
            .flatten()
            .collect()
    }

    fn beat_finished(&mut self, record: &BeatRecord) {
        let Some(run) = &self.run else {
            return;
        };
        let anomalies = match self.history.hints_of(&record.beat) {
            Some(hints) if record.status.is_judged() => {
                baton_analysis::detect_before(record, &hints.recent_outcomes, &self.settings)
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

    fn note(&self, written: std::io::Result<()>) {
        if let Err(err) = written {
            self.health.report(
                Recording::TelemetryFiles,
                format!("{}: {err}", self.dir.display()),
            );
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
