//! The typed event stream the scheduler emits. Progress UI, store, telemetry files
//! and exporters all consume this one stream.

use serde::{Deserialize, Serialize};

use crate::record::{BeatRecord, RunRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    RunStarted {
        run: RunRecord,
        /// Beats that will run, in plan order.
        planned_beats: Vec<String>,
    },
    BeatStarted {
        movement_index: u32,
        beat: String,
        attempt: u32,
    },
    /// A beat is restored from the step cache instead of run: the output lines of
    /// the beat that follow, until its [`RunEvent::BeatFinished`], are the saved
    /// output of the run that stored the entry, replayed. That run is named when
    /// the entry says (entries stored before baton kept it do not).
    BeatRestored {
        beat: String,
        /// The label of the run that stored the entry.
        from_label: Option<String>,
        /// The id of the run that stored the entry.
        from_run_id: Option<String>,
    },
    /// One complete line of a beat's output, secrets already masked.
    OutputLine {
        beat: String,
        stream: OutputStream,
        line: String,
    },
    /// A beat ended (or was skipped) with its complete record.
    BeatFinished {
        record: Box<BeatRecord>,
    },
    /// A beat's rollback command ran after its movement failed: its record, told
    /// before in [`RunEvent::BeatFinished`], again with
    /// [`BeatRecord::rollback`](crate::BeatRecord::rollback) set.
    RollbackFinished {
        record: Box<BeatRecord>,
    },
    /// The run was asked to stop (Ctrl-C, SIGTERM, SIGHUP). The first request
    /// (`kill: false`) interrupts the running beats and starts nothing new; the next
    /// (`kill: true`) kills them. Told once per step, with the beats still running.
    Stopping {
        kill: bool,
        running: Vec<String>,
    },
    /// A non-fatal problem worth telling the user once.
    Warning {
        message: String,
    },
    /// Something the run produced could not be kept (a log file, say). The run goes
    /// on; the CLI warns once per kind and `--strict` turns it into exit 4.
    RecordingFailed {
        what: Recording,
        message: String,
    },
    RunFinished {
        run: RunRecord,
    },
}

/// What of a run could not be recorded ([`RunEvent::RecordingFailed`]): one kind
/// per place a run keeps something, in the order a user would look for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recording {
    /// The state folder (`.baton/`) itself: then nothing else is kept either.
    StateFolder,
    /// The history store: the run, its beats, its heartbeat.
    History,
    /// A beat's log file.
    Logs,
    /// The telemetry files: a beat's file or the run's report.
    TelemetryFiles,
    /// The run's `artifacts.json`.
    ArtifactsFile,
    /// The artifact manifest in the history store.
    ArtifactManifest,
    /// The level-ff archive of the run.
    Archive,
}

impl Recording {
    /// How a warning names it: `logs not recorded: ...`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StateFolder => "the state folder",
            Self::History => "history",
            Self::Logs => "logs",
            Self::TelemetryFiles => "telemetry files",
            Self::ArtifactsFile => "artifacts.json",
            Self::ArtifactManifest => "the artifact manifest",
            Self::Archive => "the archive",
        }
    }
}

impl std::fmt::Display for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
