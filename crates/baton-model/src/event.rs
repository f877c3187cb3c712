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
    /// A rollback command ran after a movement failed.
    RollbackFinished {
        beat: String,
        success: bool,
        duration_ms: u64,
    },
    /// A non-fatal problem worth telling the user once.
    Warning {
        message: String,
    },
    /// Something the run produced could not be kept (a log file, say). The run goes
    /// on; the CLI warns once and `--strict` turns it into exit 4.
    RecordingFailed {
        what: String,
        message: String,
    },
    RunFinished {
        run: RunRecord,
    },
}
