//! `baton schema`: the JSON Schema of the pipeline file.

use crate::exit::Exit;

pub(crate) fn run() -> anyhow::Result<Exit> {
    print!("{}", baton_config::schema::PIPELINE_SCHEMA);
    Ok(Exit::Success)
}
