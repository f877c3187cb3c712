//! One module per verb.

pub mod artifacts;
pub mod cache;
pub mod completions;
pub mod gc;
pub mod history;
pub mod init;
pub mod list;
pub mod report;
pub mod run;
pub mod schema;
pub mod shape;
pub mod show;
pub mod validate;

pub mod reading;
