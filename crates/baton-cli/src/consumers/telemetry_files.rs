//! Judges each beat against its history (the anomaly rules) and writes its
//! telemetry file as soon as it finishes, while the next beats run; the run's
//! report file is written once the run is over (`baton run`).
//! Shadow principle: the first failure is warned about once and the run goes on.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use baton_analysis::Anomaly;
use baton_model::{BeatRecord, RunEvent, RunRecord};
use baton_store::HistoryStore;

use super::Consumer;
use crate::commands::reading;

pub struct TelemetryFiles {
    /// The telemetry root (`.baton/telemetry`).
    dir: PathBuf,
    /// Where the anomaly rules read the beats' history; none: no anomalies.
    store: Option<Arc<dyn HistoryStore>>,
    run: Option<RunRecord>,
    anomalies: HashMap<String, Vec<Anomaly>>,
    /// The first failure to write a file, for `--strict` and the end-of-run note.
    failure: Option<String>,
    anomaly_failure_told: bool,
}

impl TelemetryFiles {
    pub fn new(dir: PathBuf, store: Option<Arc<dyn HistoryStore>>) -> Self {
        Self {
            dir,
            store,
            run: None,
            anomalies: HashMap::new(),
            failure: None,
            anomaly_failure_told: false,
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
        let anomalies = match &self.store {
            Some(store) => reading::anomalies_of(store.as_ref(), &run.pipeline_id, record)
                .unwrap_or_else(|err| {
                    if !self.anomaly_failure_told {
                        eprintln!("baton: warning: anomaly rules skipped: {err}");
                        self.anomaly_failure_told = true;
                    }
                    Vec::new()
                }),
            None => Vec::new(),
        };
        let refs: Vec<&Anomaly> = anomalies.iter().collect();
        if let Err(err) = baton_report::telemetry_files::write_beat(&self.dir, run, record, &refs)
            && self.failure.is_none()
        {
            eprintln!(
                "baton: warning: telemetry files not written to {}: {err}",
                self.dir.display()
            );
            self.failure = Some(err.to_string());
        }
        if !anomalies.is_empty() {
            self.anomalies.insert(record.beat.clone(), anomalies);
        }
    }
}

impl Consumer for TelemetryFiles {
    fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run, .. } => self.run = Some(run.clone()),
            RunEvent::BeatFinished { record } => self.beat_finished(record),
            _ => {}
        }
    }
}
