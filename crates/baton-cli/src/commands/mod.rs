//! One module per verb.

pub(crate) mod artifacts;
pub(crate) mod budget;
pub(crate) mod cache;
pub(crate) mod completions;
pub(crate) mod doctor;
pub(crate) mod exec;
pub(crate) mod export;
pub(crate) mod flaky;
pub(crate) mod gc;
pub(crate) mod history;
pub(crate) mod import;
pub(crate) mod ingest;
pub(crate) mod init;
pub(crate) mod list;
pub(crate) mod reading;
pub(crate) mod regressions;
pub(crate) mod report;
pub(crate) mod run;
pub(crate) mod schema;
pub(crate) mod serve;
pub(crate) mod shape;
pub(crate) mod show;
pub(crate) mod slowest;
pub(crate) mod telemetry;
pub(crate) mod trends;
pub(crate) mod validate;
