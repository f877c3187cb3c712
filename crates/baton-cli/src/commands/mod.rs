//! One module per verb.

pub mod init;
pub mod run;
pub mod schema;
pub mod validate;
