//! Judges each beat against its history (the anomaly rules, over the outcomes
//! loaded with the run's history hints: no store query per beat) and, when beat
//! files are wanted ([`beat_files_wanted`]), writes its telemetry file as soon as
//! it finishes, while the next beats run; the run's report file is written once
//! the run is over (`baton run`).
//! Shadow principle: a failure is told to [`RecordingHealth`] and the run goes on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_analysis::Anomaly;
use baton_model::{AnomalySettings, BeatRecord, Level, Recording, RunEvent, RunRecord};
use baton_report::documented::AllowedFailures;

use super::Consumer;
use super::health::RecordingHealth;
use crate::history::History;

/// The variable that asks for (`1`) or refuses (`0`) the per-beat files.
pub(crate) const BEAT_FILES_VAR: &str = "BATON_BEAT_FILES";

/// Whether a run writes a file per beat: at level ff, or when `$BATON_BEAT_FILES`
/// asks for them (`1`, `true`, `yes`, `on`; `0`, `false`, `no`, `off` turns them
/// off even at ff). The run's report file holds every beat's record either way.
pub(crate) fn beat_files_wanted(level: Level, var: Option<&str>) -> bool {
    match var.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        Some("1" | "true" | "yes" | "on") => true,
        Some("0" | "false" | "no" | "off") => false,
        _ => level == Level::Ff,
    }
}

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
    /// Write a file per beat; when false only the anomalies are found.
    beat_files: bool,
    /// The beats whose failure is allowed (`partial` in the files).
    allowed: AllowedFailures,
}

impl TelemetryFiles {
    pub(crate) fn new(
        dir: PathBuf,
        history: Arc<History>,
        settings: AnomalySettings,
        health: RecordingHealth,
        beat_files: bool,
        allowed: AllowedFailures,
    ) -> Self {
        Self {
            dir,
            history,
            settings,
            run: None,
            anomalies: HashMap::new(),
            health,
            beat_files,
            allowed,
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
        if self.beat_files {
            let refs: Vec<&Anomaly> = anomalies.iter().collect();
            let allowed = self.allowed.contains(&record.beat);
            let written =
                baton_report::telemetry_files::write_beat(&self.dir, run, record, &refs, allowed);
            self.note(written);
        }
        if !anomalies.is_empty() {
            self.anomalies.insert(record.beat.clone(), anomalies);
        }
    }

    /// Writes a beat's file again, now with its rollback.
    fn rolled_back(&mut self, record: &BeatRecord) {
        let Some(run) = self.run.as_ref().filter(|_| self.beat_files) else {
            return;
        };
        let refs: Vec<&Anomaly> = self
            .anomalies
            .get(&record.beat)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let allowed = self.allowed.contains(&record.beat);
        let written =
            baton_report::telemetry_files::write_beat(&self.dir, run, record, &refs, allowed);
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
