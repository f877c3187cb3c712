//! Renderers for baton runs. No clap, no store, no terminal detection: callers
//! decide where the output goes and whether it is colored.
//!
//! - [`report`]: [`RunReport`], the content of `build-sli-slo-sla-report.json`;
//! - [`telemetry_files`]: the per-beat and report JSON files (docs/recording.md),
//!   in the source document's record format ([`documented`]);
//! - [`text`], [`markdown`], [`json`]: one run, for a terminal, a CI summary page,
//!   or a program;
//! - [`history`] and [`shape_log`]: tables for `baton history` and `baton shape log`;
//! - [`show`]: one run as recorded, beat by beat, for `baton show`;
//! - [`dry_run`]: a planned run for `baton run --dry-run`;
//! - [`format`](mod@format): the human formatting every renderer shares (durations, bytes, ...);
//! - [`regressions`], [`flaky`] and [`trends`]: the cross-run signals (`baton
//!   regressions`, `flaky`, `trends`, `slowest`), their JSON documents and text.

pub mod budget;
pub mod documented;
pub mod dry_run;
pub mod flaky;
pub mod format;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod regressions;
pub mod report;
pub mod shape_log;
pub mod show;
pub mod telemetry_files;
pub mod text;
pub mod trends;

pub use dry_run::render_dry_run;
pub use history::{HistoryRow, render_history_table};
pub use html::{HtmlInput, render_html, render_html_body};
pub use json::render_json;
pub use junit::render_junit;
pub use markdown::render_markdown;
pub use report::{Breach, EvolvedShape, REPORT_FILE_NAME, RunReport, Summary};
pub use shape_log::render_shape_log;
pub use show::render_run;
pub use text::render_text;
