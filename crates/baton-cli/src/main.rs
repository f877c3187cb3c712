//! The `baton` binary: parses the command line, dispatches to one module per verb
//! under [`commands`], and maps outcomes to exit codes (in [`exit`]).

mod auto_gc;
mod cli;
mod commands;
mod consumers;
mod exit;
mod history;
mod notice;
mod provenance;
mod shape_registry;
mod signals;
mod size;
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
    if !matches!(cli.command, Command::Run(_) | Command::Exec(_)) {
        // Reading verbs piped into `head` end quietly, like other Unix tools.
        // `run` keeps SIGPIPE ignored: it must outlive its terminal to record the run.
        // SAFETY: called before any thread starts; SIG_DFL is a valid disposition.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let outcome = match cli.command {
        Command::Validate(args) => commands::validate::run(&args),
        Command::Schema => commands::schema::run(),
        Command::List(args) => commands::list::run(&args),
        Command::Init(args) => commands::init::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::History(args) => commands::history::run(&args),
        Command::Show(args) => commands::show::run(&args),
        Command::Report(args) => commands::report::run(&args),
        Command::Shape(cmd) => commands::shape::run(&cmd),
        Command::Gc(args) => commands::gc::run(&args),
        Command::Cache(cmd) => commands::cache::run(&cmd),
        Command::Artifacts(cmd) => commands::artifacts::run(&cmd),
        Command::Completions(args) => commands::completions::completions(&args),
        Command::Man => commands::completions::man(),
        Command::Regressions(args) => commands::regressions::run(&args),
        Command::Flaky(args) => commands::flaky::run(&args),
        Command::Trends(args) => commands::trends::run(&args),
        Command::Slowest(args) => commands::slowest::run(&args),
        Command::Budget(args) => commands::budget::run(&args),
        Command::Export(args) => commands::export::run(&args),
        Command::Import(args) => commands::import::run(&args),
        Command::Telemetry(args) => commands::telemetry::run(&args),
        Command::Ingest(cmd) => commands::ingest::run(&cmd),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Exec(args) => commands::exec::run(&args),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(err) => {
            notice::error(format!("{err:#}"));
            exit::exit_for_error(&err).into()
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
    let mut line = one_line(&err.render().to_string());
    if err.kind() == ErrorKind::InvalidSubcommand
        && !line.contains("similar")
        && let Some(verb) = unknown_verb(err)
        && let Some(close) = closest_verb(&verb)
    {
        line = line.replacen(
            "; see `baton --help`",
            &format!("; a similar subcommand exists: '{close}'; see `baton --help`"),
            1,
        );
    }
    notice::error(line);
    Exit::Usage.into()
}

/// The verb clap did not recognise.
fn unknown_verb(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue};
    match err.get(ContextKind::InvalidSubcommand)? {
        ContextValue::String(verb) => Some(verb.clone()),
        _ => None,
    }
}

/// clap suggests a verb only when it is close by Jaro similarity, which misses
/// swapped letters (`rnu`); this catches those: the verb at most one edit away
/// (a swap of two neighbours counts as one), or two for longer verbs.
fn closest_verb(typed: &str) -> Option<String> {
    use clap::CommandFactory;
    let command = Cli::command();
    command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .map(|name| (strsim::osa_distance(typed, &name), name))
        .filter(|(distance, name)| *distance <= if name.len() > 4 { 2 } else { 1 })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swapped_letters_find_the_verb() {
        assert_eq!(closest_verb("rnu").as_deref(), Some("run"));
        assert_eq!(closest_verb("valdiate").as_deref(), Some("validate"));
        assert_eq!(closest_verb("xyz"), None);
    }
}
