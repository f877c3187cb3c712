//! `baton show [RUN|latest]`: one recorded run, beat by beat.

use super::reading;
use crate::cli::{ShowArgs, TextOrJson};
use crate::exit::Exit;

pub(crate) fn run(args: &ShowArgs) -> anyhow::Result<Exit> {
    let history = reading::open(&args.store)?;
    let (run, beats) = reading::load_run(&history, &args.run)?;
    let report = reading::report_for(&history, run, beats)?;
    match args.format {
        TextOrJson::Text => {
            let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
                && std::env::var_os("NO_COLOR").is_none();
            print!("{}", baton_report::render_text(&report, color));
        }
        TextOrJson::Json => println!("{}", baton_report::render_json(&report)),
    }
    Ok(Exit::Success)
}
