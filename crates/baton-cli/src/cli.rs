//! The command line, declared with clap. Only this crate knows clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "Run build and CI pipelines and measure every step."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a pipeline file and report every problem with its position.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the pipeline file (for editors).
    Schema,
    /// Write a starter baton.yaml proposing beats from what is in this directory.
    Init(InitArgs),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline file (default: baton.yaml in the current directory).
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
    /// Fail on minor problems too.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to initialise (default: the current directory).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing pipeline file.
    #[arg(long)]
    pub force: bool,
}
