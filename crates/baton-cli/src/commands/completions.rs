//! `baton completions SHELL` and `baton man`: generated from the command line's
//! own declaration, so they cannot fall behind it.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::Exit;

pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "baton", &mut out);
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("failed to write the completion script")?;
    Ok(Exit::Success)
}

pub(crate) fn man() -> anyhow::Result<Exit> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("failed to render the man page")?;
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("failed to write the man page")?;
    Ok(Exit::Success)
}
