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
    /// on; the CLI warns once and `--strict` turns it into exit 4.
    RecordingFailed {
        what: String,
        message: String,
    },
    RunFinished {
        run: RunRecord,
    },
}
