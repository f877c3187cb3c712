//! `baton doctor`.
use crate::cli::DoctorArgs;
use crate::exit::Exit;
pub(crate) fn run(_args: &DoctorArgs) -> anyhow::Result<Exit> {
    Ok(Exit::Success)
}
