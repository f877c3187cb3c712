//! The `baton` binary: parses the command line, dispatches to one module per verb
//! under [`commands`], and maps outcomes to the exit codes of DESIGN.md.

mod cli;
mod commands;
mod consumers;
mod exit;
mod history;
mod provenance;
mod state;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return command_line_error(&err),
    };
    if !matches!(cli.command, Command::Run(_)) {
        // Reading verbs piped into `head` end quietly, like other Unix tools.
        // `run` keeps SIGPIPE ignored: it must outlive its terminal to record the run.
        // SAFETY: called before any thread starts; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let outcome = match cli.command {
        Command::Validate(args) => commands::validate::run(&args),
        Command::Schema => commands::schema::run(),
        Command::Init(args) => commands::init::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::History(args) => commands::history::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Shape(cmd) => commands::shape::run(&cmd),
        Command::Gc(args) => commands::gc::run(&args),
        Command::Cache(cmd) => commands::cache::run(&cmd),
        Command::Artifacts(cmd) => commands::artifacts::run(&cmd),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            eprintln!("baton: error: {err:#}");
            if err.is::<exit::UsageError>()
                || err
                    .downcast_ref::<baton_store::StoreError>()
                    .is_some_and(baton_store::StoreError::is_usage)
            {
                Exit::Usage.into()
            } else {
                Exit::Internal.into()
            }
        }
    }
}

/// Help and version go to stdout as clap prints them; a bad command line is one
/// line on stderr (clap's first, without its usage block and hints) and exit 2.
fn command_line_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = err.print();
        return if err.use_stderr() {
            Exit::Usage.into()
        } else {
            Exit::Success.into()
        };
    }
    eprintln!("baton: error: {}", one_line(&err.render().to_string()));
    Exit::Usage.into()
}

/// clap's message in one line: its first line, with the possible values and the
/// tips ("a similar argument exists: '--only'") that follow, without the usage.
fn one_line(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim);
    let first = lines.next().unwrap_or("invalid command line");
    let mut parts = vec![first.strip_prefix("error: ").unwrap_or(first).to_owned()];
    parts.extend(
        lines
            .take_while(|l| !l.starts_with("Usage:"))
            .filter(|l| l.starts_with('[') || l.starts_with("tip:"))
            .map(|l| l.strip_prefix("tip: ").unwrap_or(l).to_owned()),
    );
    parts.push("see `baton --help`".to_owned());
    parts.join("; ")
}
