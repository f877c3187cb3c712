//! The command line, declared with clap. Only this crate knows clap.

use std::convert::Infallible;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `baton --version`: the version and the commit it was built from (see build.rs).
pub(crate) const VERSION: &str =
    concat!(env!("CARGO_PKG_VERSION"), " (", env!("BATON_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version = VERSION,
    about = "Run build and CI pipelines and measure every step."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a pipeline file and report every problem with its position.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the pipeline file (for editors).
    Schema,
    /// List the beats by movement: type, level, needs, cache, timeout.
    List(ListArgs),
    /// Write a starter baton.yaml proposing beats from what is in this directory.
    Init(InitArgs),
    /// Run the pipeline, measure every beat and record it in the history.
    Run(RunArgs),
    /// List recorded runs, newest first.
    History(HistoryArgs),
    /// Show one recorded run beat by beat.
    Show(ShowArgs),
    /// Render a run's SLI/SLO/SLA report as text, JSON, Markdown or HTML.
    Report(ReportArgs),
    /// Shapes: a beat's shape history, annotations, export.
    #[command(subcommand)]
    Shape(ShapeCommand),
    /// Remove old runs with their logs and telemetry files.
    Gc(GcArgs),
    /// The step cache: why a beat missed, what is stored, pruning.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Artifact manifests: check that a run's outputs are still what it produced.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff) on stdout.
    Man,
    /// Where each beat got slower or faster: change points in its durations.
    Regressions(RegressionsArgs),
    /// Flaky and broken beats: the same inputs both passed and failed.
    Flaky(FlakyArgs),
    /// Durations, success, cache hits and time lost per day or week.
    Trends(TrendsArgs),
    /// The beats that take longest and those that cost the most time.
    Slowest(SlowestArgs),
    /// Each beat's SLO error budget: the misses its objective allows and how many are left.
    Budget(BudgetArgs),
    /// Write recorded runs as JSON Lines, one run per line, oldest first.
    Export(ExportArgs),
    /// Read runs written by `baton export` (or another tool) into the history.
    Import(ImportArgs),
    /// The telemetry webhook: its settings, outbox and last delivery; test, flush.
    Telemetry(TelemetryArgs),
    /// Bring CI history into baton: GitHub Actions runs, GitLab pipelines, JUnit reports.
    #[command(subcommand)]
    Ingest(IngestCommand),
    /// Check the health of everything baton keeps; a score and a fix per problem.
    Doctor(DoctorArgs),
    /// A read-only dashboard, JSON API and Prometheus /metrics over the history.
    Serve(ServeArgs),
    /// Run one command as a measured beat, a drop-in; a CI job's calls join one run.
    ///
    /// stdin, stdout and stderr are the command's and baton exits with its status.
    /// Consecutive calls join one run (`BATON_RUN_ID`, else the CI job's ids);
    /// `baton exec --finish` ends it.
    Exec(ExecArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// The pipeline file (default: baton.yaml in the current directory).
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Why a beat would miss now, or what changed between two runs' keys.
    Explain(CacheExplainArgs),
    /// Cache entries, least recently used first.
    Ls(CacheLsArgs),
    /// Remove least recently used entries until the cache fits.
    Prune(CachePruneArgs),
    /// Remove every entry.
    Clear(CacheLsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CacheExplainArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    pub beat: String,
    /// Compare the key this run used ...
    #[arg(long, requires = "vs")]
    pub run: Option<String>,
    /// ... with the key this run used.
    #[arg(long, requires = "run")]
    pub vs: Option<String>,
    /// json: one object {format_version, beat, mode (current|runs), cacheable, key,
    /// would_hit, previous, runs, explanation, summary}, null where a field does
    /// not apply (docs/running.md#the-step-cache).
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct CacheLsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct CachePruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep at most this much (e.g. 5GB, 500MB, 1GiB).
    #[arg(long, value_name = "SIZE")]
    pub max_size: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactsCommand {
    /// Re-hash a run's artifacts on disk and list what changed or vanished.
    Verify(ArtifactsVerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ArtifactsVerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A run id (or prefix), label (build-...) or `latest`.
    #[arg(default_value = "latest")]
    pub run: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

/// Where the history is: the pipeline file's `.baton/` (or `$BATON_DIR`).
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// The pipeline file whose history to read (default: baton.yaml here).
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Which pipelines of the history a reading command covers.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ScopeArgs {
    /// Only this pipeline (name or id). Default: the pipeline file's, or every
    /// pipeline when there is no pipeline file.
    #[arg(long, value_name = "NAME|ID", conflicts_with = "all")]
    pub pipeline: Option<String>,
    /// Every pipeline in the history.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only runs that include this beat.
    #[arg(long)]
    pub beat: Option<String>,
    /// Only runs with this status (success, failure, cancelled, running, abandoned).
    #[arg(long)]
    pub status: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// A run id (or prefix), label (build-...) or `latest`.
    #[arg(default_value = "latest")]
    pub run: String,
    /// text: the run and each beat as recorded; json: the run document
    /// {format_version, run, beats}, the object `baton export` writes per line.
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    #[default]
    Text,
    Json,
    Markdown,
    /// One self-contained page: the waterfall, the beat table with each beat's
    /// last durations against its SLO, breaches, anomalies, regressions, flaky
    /// beats and shape changes (inline CSS and SVG, no script, nothing fetched).
    Html,
    /// JUnit XML: a test suite per movement, a test case per beat (failures with
    /// their message and log tail), for any CI's test view.
    Junit,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// A run id (or prefix), label (build-...) or `latest`.
    #[arg(default_value = "latest")]
    pub run: String,
    #[arg(long, value_enum, default_value_t)]
    pub format: ReportFormat,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ShapeCommand {
    /// A beat's shape history with durations and SLA status side by side.
    Log(ShapeLogArgs),
    /// Record why a beat's shape changed.
    Annotate(ShapeAnnotateArgs),
    /// Write every shape change with its annotation to shape-evolutions.json.
    Export(ShapeExportArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ShapeLogArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    pub beat: String,
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct ShapeAnnotateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    pub beat: String,
    /// Why the shape changed.
    #[arg(long)]
    pub reason: String,
    /// The run whose shape to annotate (default: the beat's latest).
    #[arg(long)]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ShapeExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to write (default: shape-evolutions.json; `-` for stdout).
    #[arg(long, short = 'o', default_value = "shape-evolutions.json")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("policy").required(true).args(["keep_runs", "older_than"])))]
pub(crate) struct GcArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep the newest N runs of each pipeline.
    #[arg(long, value_name = "N", conflicts_with = "older_than")]
    pub keep_runs: Option<usize>,
    /// Remove runs older than this (e.g. 30d, 12h).
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only runs started at or after this: a date (2026-11-01, UTC), an RFC 3339
    /// time or an age (14d, 36h).
    #[arg(long, value_name = "DATE|AGE")]
    pub since: Option<String>,
    /// Write to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// JSON Lines, one run per line (docs/import-format.md); `-` for stdin.
    #[arg(value_name = "FILE|-")]
    pub input: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputMode {
    /// Lines as they come, prefixed with the beat name when beats run in parallel.
    #[default]
    Prefixed,
    /// Each beat's output as one block when it finishes.
    Grouped,
    /// Only the summary.
    Quiet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    P,
    Mf,
    F,
    Ff,
}

impl From<LevelArg> for baton_model::Level {
    fn from(l: LevelArg) -> Self {
        match l {
            LevelArg::P => Self::P,
            LevelArg::Mf => Self::Mf,
            LevelArg::F => Self::F,
            LevelArg::Ff => Self::Ff,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Warning,
    Breach,
    Critical,
}

impl From<FailOn> for baton_model::SlaStatus {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Warning => Self::Warning,
            FailOn::Breach => Self::Breach,
            FailOn::Critical => Self::Critical,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The pipeline file (default: baton.yaml in the current directory).
    pub file: Option<PathBuf>,
    /// Dynamic level: p < mf < f < ff.
    #[arg(long, value_enum, default_value = "mf")]
    pub level: LevelArg,
    /// Run at most N beats at once (default: number of cores).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<u16>,
    /// Run only these beats (and what they need): `--only a --only b` or `--only a,b`.
    #[arg(long, value_delimiter = ',', value_name = "BEAT", value_parser = trimmed)]
    pub only: Vec<String>,
    /// Start at this movement.
    #[arg(long, value_name = "MOVEMENT", value_parser = trimmed)]
    pub from: Option<String>,
    /// Print the plan and run nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputMode,
    /// Exit 3 when any beat's SLA verdict is at least this bad.
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub fail_on: Option<FailOn>,
    /// Fail (exit 4) when the history or telemetry cannot be written.
    #[arg(long)]
    pub strict: bool,
    /// Record nothing in the history or telemetry files (logs and the cache still work).
    #[arg(long)]
    pub no_telemetry: bool,
    /// Run every cacheable beat even when it would hit (and store it again).
    #[arg(long, conflicts_with = "cache_only")]
    pub no_cache: bool,
    /// Fail any beat that would have to run instead of coming from the cache.
    #[arg(long)]
    pub cache_only: bool,
}

/// A name without the spaces around it: `--only "a, b"` means `a` and `b` (the
/// planner takes names as they are).
fn trimmed(text: &str) -> Result<String, Infallible> {
    Ok(text.trim().to_owned())
}

/// `-j N`: how many beats may run at once, 1 to 65535.
pub(crate) fn parse_jobs(text: &str) -> Result<u16, String> {
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(0) => Err("-j/--jobs must be at least 1 (got 0)".to_owned()),
        Ok(n) => u16::try_from(n)
            .map_err(|_| format!("-j/--jobs must be at most {} (got {n})", u16::MAX)),
        Err(_) => Err(format!(
            "-j/--jobs must be a whole number of at least 1 (got '{text}')"
        )),
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum TextOrJson {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The pipeline file (default: baton.yaml in the current directory).
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
    /// Fail on minor problems too.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Directory to initialise (default: the current directory).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing pipeline file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RegressionsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only this beat.
    #[arg(long)]
    pub beat: Option<String>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct FlakyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// How far back to look, in days or weeks: 14d, 2w, 30.
    #[arg(long, default_value = "14d", value_name = "DAYS", value_parser = parse_days)]
    pub window: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum PeriodArg {
    #[default]
    Day,
    /// ISO weeks (Monday to Sunday).
    Week,
}

#[derive(Debug, Args)]
pub(crate) struct TrendsArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[arg(long, value_enum, default_value_t)]
    pub period: PeriodArg,
    /// How far back to look (default: 14 days by day, 12 weeks by week); 14d, 2w, 30.
    #[arg(long, value_name = "DAYS", value_parser = parse_days)]
    pub days: Option<u64>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct SlowestArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// How many beats each ranking lists.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// How far back to look: 14d, 2w, 30.
    #[arg(long, default_value = "14d", value_name = "DAYS", value_parser = parse_days)]
    pub days: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct BudgetArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The budget window: 30d, 4w, 7.
    #[arg(long, default_value = "30d", value_name = "DAYS", value_parser = parse_days)]
    pub days: u64,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

/// A window in whole days: `14d`, `2w` or `14`; at least one day.
pub(crate) fn parse_days(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "d"),
    };
    let factor = match unit.trim() {
        "d" | "day" | "days" => 1,
        "w" | "week" | "weeks" => 7,
        _ => {
            return Err(format!(
                "'{text}' is not a number of days or weeks (14d, 2w, 30)"
            ));
        }
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => n
            .checked_mul(factor)
            .ok_or_else(|| format!("'{text}' is too long a window")),
        _ => Err(format!(
            "'{text}' is not a number of days or weeks (14d, 2w, 30)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn run_args(args: &[&str]) -> RunArgs {
        let argv = ["baton", "run"].iter().chain(args);
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Run(args) => args,
            other => panic!("not a run: {other:?}"),
        }
    }

    #[test]
    fn only_and_from_names_are_trimmed() {
        let args = run_args(&["--only", "a, b ,c", "--only", " d", "--from", " build "]);
        assert_eq!(args.only, ["a", "b", "c", "d"]);
        assert_eq!(args.from.as_deref(), Some("build"));
    }

    #[test]
    fn jobs_is_a_whole_number_of_at_least_one() {
        assert_eq!(run_args(&["-j", "4"]).jobs, Some(4));
        assert_eq!(parse_jobs("1"), Ok(1));
        assert_eq!(parse_jobs("65535"), Ok(65535));
        assert_eq!(
            parse_jobs("0"),
            Err("-j/--jobs must be at least 1 (got 0)".to_owned())
        );
        assert_eq!(
            parse_jobs("65536"),
            Err("-j/--jobs must be at most 65535 (got 65536)".to_owned())
        );
        assert_eq!(
            parse_jobs("two"),
            Err("-j/--jobs must be a whole number of at least 1 (got 'two')".to_owned())
        );
        assert!(parse_jobs("-1").is_err());
    }

    #[test]
    fn windows_are_days_or_weeks() {
        assert_eq!(parse_days("14d"), Ok(14));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("30"), Ok(30));
        assert_eq!(parse_days("3650d"), Ok(3650));
        for bad in ["0d", "d", "14h", "-1", "x", ""] {
            assert!(parse_days(bad).is_err(), "{bad}");
        }
    }
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct TelemetryArgs {
    #[command(subcommand)]
    pub command: Option<TelemetryCommand>,
    /// The pipeline file whose `.env` and outbox to use (default: baton.yaml here).
    pub file: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TelemetryCommand {
    /// Send a synthetic ping; print the HTTP status and the round-trip time.
    Test(TelemetryFileArgs),
    /// Deliver the outbox now.
    Flush(TelemetryFileArgs),
}

#[derive(Debug, Args)]
pub(crate) struct TelemetryFileArgs {
    /// The pipeline file whose `.env` and outbox to use (default: baton.yaml here).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum IngestCommand {
    /// Workflow runs and their jobs as the GitHub REST API returns them.
    #[command(name = "github-actions")]
    GithubActions(IngestFilesArgs),
    /// A pipeline and its jobs as the GitLab REST API returns them.
    Gitlab(IngestFilesArgs),
    /// JUnit XML reports: onto one beat of a run, or as a run of their own.
    Junit(IngestJunitArgs),
}

#[derive(Debug, Args)]
pub(crate) struct IngestFilesArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// API responses saved as JSON (docs/ingest.md), in any order; `-` for stdin.
    #[arg(value_name = "FILE|-", required = true)]
    pub files: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct IngestJunitArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// JUnit XML reports (surefire, pytest, jest-junit, nextest); `-` for stdin.
    #[arg(value_name = "FILE|-", required = true)]
    pub files: Vec<String>,
    /// Attach the results to a beat of this run (id, prefix, label or `latest`) ...
    #[arg(long, requires = "beat")]
    pub run: Option<String>,
    /// ... this beat.
    #[arg(long, requires = "run")]
    pub beat: Option<String>,
    /// Without --run: the pipeline name of the run made of the reports.
    #[arg(long, default_value = "junit", conflicts_with = "run")]
    pub pipeline: String,
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// The pipeline file whose state to check (default: baton.yaml here).
    pub file: Option<PathBuf>,
    /// Also check that the configured exporters answer.
    #[arg(long)]
    pub network: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: TextOrJson,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to listen. Beyond loopback a token is required.
    #[arg(long, value_name = "ADDR:PORT", default_value = baton_serve::DEFAULT_BIND)]
    pub bind: String,
    /// Required on every request (Bearer, or the password of Basic auth); default:
    /// $BATON_SERVE_TOKEN.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The beat's name (default: the command's program and first words).
    #[arg(long, value_name = "NAME", value_parser = trimmed)]
    pub name: Option<String>,
    /// The beat's type, whose SLO it is judged against.
    #[arg(
        long = "type",
        value_enum,
        value_name = "TYPE",
        default_value = "build"
    )]
    pub beat_type: BeatTypeArg,
    /// The movement the beat belongs to.
    #[arg(long, value_name = "NAME", default_value = "exec", value_parser = trimmed)]
    pub movement: String,
    /// An environment variable whose value is masked in the beat's log.
    #[arg(long = "secret", value_name = "ENV")]
    pub secrets: Vec<String>,
    /// Files the command reads (glob): its input identity.
    #[arg(long = "inputs", value_name = "GLOB")]
    pub inputs: Vec<String>,
    /// Files the command produces (glob): its artifacts.
    #[arg(long = "outputs", value_name = "GLOB")]
    pub outputs: Vec<String>,
    /// End the run the earlier calls joined (its status: the worst of its beats).
    #[arg(long, conflicts_with_all = ["name", "secrets", "inputs", "outputs"])]
    pub finish: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "CMD", allow_hyphen_values = true)]
    pub command: Vec<std::ffi::OsString>,
}

/// A beat type on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BeatTypeArg {
    Validation,
    Generation,
    Build,
    Test,
    Verification,
    Deploy,
    Observation,
}

impl From<BeatTypeArg> for baton_model::BeatType {
    fn from(arg: BeatTypeArg) -> Self {
        match arg {
            BeatTypeArg::Validation => Self::Validation,
            BeatTypeArg::Generation => Self::Generation,
            BeatTypeArg::Build => Self::Build,
            BeatTypeArg::Test => Self::Test,
            BeatTypeArg::Verification => Self::Verification,
            BeatTypeArg::Deploy => Self::Deploy,
            BeatTypeArg::Observation => Self::Observation,
        }
    }
}
