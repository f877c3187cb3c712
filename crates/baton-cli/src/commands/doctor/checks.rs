//! The checks of `baton doctor`, each returning its findings; none changes
//! anything but a probe file it removes at once.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use baton_model::RunStatus;
use baton_store::{HistoryStore, RunFilter, SqliteStore};
use jiff::Timestamp;

use super::{Finding, Level};
use crate::state::StateDir;

const MIB: u64 = 1 << 20;
/// Free space under which the state directory is a failure ...
const FREE_FAIL: u64 = 100 * MIB;
/// ... and a warning.
const FREE_WARN: u64 = 1024 * MIB;
/// A write-ahead log this large is not being checkpointed.
const WAL_WARN: u64 = 64 * MIB;
/// Deliveries waiting that make the outbox deep (it holds at most
/// [`baton_export::outbox::CAP`], dropping the oldest beyond).
const OUTBOX_WARN: usize = 10;
/// How far ahead of this clock a recorded run may have started.
const CLOCK_SKEW_SECS: i64 = 300;

pub(super) fn all(root: &Path, network: bool) -> Vec<Finding> {
    let state = StateDir::for_pipeline(root);
    let mut findings = state_dir(&state.root);
    let newest = history(&state, &mut findings);
    findings.extend(cache(&state.layout().cache()));
    findings.extend(exporters(root, network));
    findings.push(git());
    findings.push(shell());
    findings.push(clock(newest));
    findings
}

fn state_dir(dir: &Path) -> Vec<Finding> {
    let shown = dir.display();
    if !dir.exists() {
        return vec![Finding::ok(
            "state",
            format!("{shown} does not exist yet (the first run creates it)"),
        )];
    }
    let mut out = Vec::new();
    let probe = dir.join(format!(".doctor-probe-{}", std::process::id()));
    match fs::write(&probe, b"") {
        Ok(()) => {
            let _ = fs::remove_file(&probe);
            out.push(Finding::ok("state", format!("{shown} is writable")));
        }
        Err(err) => out.push(Finding::problem(
            "state",
            Level::Failure,
            format!("{shown} is not writable: {err}"),
            format!(
                "make it writable (chmod u+w {shown}) or point BATON_DIR at a writable directory"
            ),
        )),
    }
    if let Some(free) = free_bytes(dir) {
        let text = format!("{} MiB free", free / MIB);
        let fix = "free space on that disk, `baton gc --older-than 30d`, or `baton cache prune --max-size 1GB`";
        out.push(if free < FREE_FAIL {
            Finding::problem("state", Level::Failure, text, fix)
        } else if free < FREE_WARN {
            Finding::problem("state", Level::Warning, text, fix)
        } else {
            Finding::ok("state", text)
        });
    }
    out
}

/// Bytes available to this user on the file system of `dir`.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes the struct it is given; `path` is NUL-terminated.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    // The field types differ by platform (u32 on some): widen them all.
    #[allow(clippy::useless_conversion)]
    (rc == 0).then(|| u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}

fn file_size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// The history's findings; returns the start of its newest run.
fn history(state: &StateDir, out: &mut Vec<Finding>) -> Option<Timestamp> {
    let db = state.history_db();
    if !db.exists() {
        out.push(Finding::ok("history", "no history yet"));
        return None;
    }
    let restore =
        "move it aside and bring the runs back from a `baton export` (`baton import FILE`)";
    let store = match SqliteStore::open(&db) {
        Ok(store) => store,
        Err(err) => {
            out.push(Finding::problem(
                "history",
                Level::Failure,
                format!(
                    "{} cannot be opened: {}",
                    db.display(),
                    baton_cache::error_chain(&err)
                ),
                restore,
            ));
            return None;
        }
    };
    match store.quick_check() {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => out.push(Finding::problem(
            "history",
            Level::Failure,
            format!("integrity check failed: {}", problems.join("; ")),
            restore,
        )),
        Err(err) => out.push(Finding::problem(
            "history",
            Level::Failure,
            format!("integrity check failed: {}", baton_cache::error_chain(&err)),
            restore,
        )),
    }
    let version = store
        .schema_version()
        .map_or_else(|_| "?".to_owned(), |v| v.to_string());
    let wal = file_size(&db.with_extension("db-wal"));
    out.push(Finding::ok(
        "history",
        format!(
            "schema v{version}, {} MiB, write-ahead log {} MiB",
            file_size(&db) / MIB,
            wal / MIB
        ),
    ));
    if wal > WAL_WARN {
        out.push(Finding::problem(
            "history",
            Level::Warning,
            format!("the write-ahead log is {} MiB: something holds the history open", wal / MIB),
            "stop the long-running baton reader (or a sqlite3 shell) on history.db; the next write checkpoints it",
        ));
    }
    let abandoned = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Abandoned),
            ..RunFilter::default()
        })
        .map_or(0, |runs| runs.len());
    if abandoned > 0 {
        out.push(Finding::problem(
            "history",
            Level::Warning,
            format!("{abandoned} abandoned run(s): their process died before they ended"),
            "nothing to repair; `baton history --status abandoned` lists them and `baton gc` removes old ones",
        ));
    }
    let newest = store.list_runs(&RunFilter {
        limit: Some(1),
        ..RunFilter::default()
    });
    newest.ok()?.first().map(|r| r.run.started_at)
}

fn cache(dir: &Path) -> Vec<Finding> {
    let layout = baton_cache::entry::Layout {
        dir: dir.to_owned(),
    };
    if !layout.index().exists() && !layout.entries().exists() {
        return vec![Finding::ok("cache", "no step cache yet")];
    }
    let clear = "`baton cache clear` (or remove the entries named)";
    let rows = match baton_cache::index::Index::open(&layout.index()).and_then(|i| i.entries()) {
        Ok(rows) => rows,
        Err(err) => {
            return vec![Finding::problem(
                "cache",
                Level::Failure,
                format!(
                    "the cache index cannot be read: {}",
                    baton_cache::error_chain(&err)
                ),
                clear,
            )];
        }
    };
    let indexed: HashSet<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let on_disk: Vec<String> = fs::read_dir(layout.entries())
        .map(|read| {
            read.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut corrupt = Vec::new();
    for key in &on_disk {
        if !matches!(baton_cache::entry::read_head(&layout, key), Ok(Some(_))) {
            corrupt.push(key.clone());
        }
    }
    let disk: HashSet<&str> = on_disk.iter().map(String::as_str).collect();
    let orphans = on_disk
        .iter()
        .filter(|k| !indexed.contains(k.as_str()))
        .count()
        + rows
            .iter()
            .filter(|r| !disk.contains(r.key.as_str()))
            .count();
    let size: u64 = rows.iter().map(|r| r.size).sum();
    let mut out = vec![Finding::ok(
        "cache",
        format!("{} entries, {} MiB", rows.len(), size / MIB),
    )];
    if !corrupt.is_empty() {
        let shown: Vec<&str> = corrupt
            .iter()
            .take(3)
            .map(|k| &k[..k.len().min(12)])
            .collect();
        out.push(Finding::problem(
            "cache",
            Level::Failure,
            format!(
                "{} corrupt entr{} (manifest missing or unreadable): {}",
                corrupt.len(),
                if corrupt.len() == 1 { "y" } else { "ies" },
                shown.join(", ")
            ),
            clear,
        ));
    }
    if orphans > 0 {
        out.push(Finding::problem(
            "cache",
            Level::Warning,
            format!("{orphans} orphan(s): entries on disk without an index row, or rows without an entry"),
            clear,
        ));
    }
    out
}

fn exporters(root: &Path, network: bool) -> Vec<Finding> {
    let config = crate::commands::telemetry::config_for(root);
    let mut out = Vec::new();
    for warning in &config.warnings {
        out.push(Finding::problem(
            "exporters",
            Level::Warning,
            warning.clone(),
            "correct it in the environment or the .env next to the pipeline file",
        ));
    }
    let outbox = baton_export::Outbox::new(config.queue_dir.value.clone());
    let entries = outbox.list();
    let state = outbox.state();
    let oldest = entries
        .first()
        .and_then(|p| outbox.read(p))
        .map(|e| e.created_at);
    let depth = entries.len();
    let mut text = format!("{depth} deliveries waiting");
    if let Some(oldest) = oldest {
        text += &format!(", the oldest from {oldest}");
    }
    if let Some(last) = &state.last_delivery {
        text += &format!("; last delivery {} ({})", last.outcome, last.detail);
    }
    let flush = "check the endpoint (`baton telemetry test`), then `baton telemetry flush`";
    out.push(if depth >= OUTBOX_WARN || state.drops > 0 {
        let dropped = if state.drops > 0 {
            format!(", {} dropped", state.drops)
        } else {
            String::new()
        };
        let level = if depth >= baton_export::outbox::CAP {
            Level::Failure
        } else {
            Level::Warning
        };
        Finding::problem("outbox", level, format!("{text}{dropped}"), flush)
    } else {
        Finding::ok("outbox", text)
    });
    let webhook = baton_export::Webhook::new(config);
    match &webhook {
        None => out.push(Finding::ok("exporters", "webhook off (no URL)")),
        Some(w) => {
            if let Some(warning) = w.plain_http_warning() {
                out.push(Finding::problem(
                    "exporters",
                    Level::Warning,
                    warning,
                    "use an https:// URL",
                ));
            }
            if let baton_export::Activity::Gone { since } = w.activity() {
                out.push(Finding::problem(
                    "exporters",
                    Level::Warning,
                    format!("the webhook answered 410 Gone at {since}: it is off"),
                    "set BATON_WEBHOOK_URL to the endpoint's new URL",
                ));
            }
            if network {
                let attempt = w.ping("doctor", "");
                let fine = attempt.status.is_some_and(|s| (200..300).contains(&s));
                out.push(if fine {
                    Finding::ok("exporters", format!("webhook answered: {}", attempt.detail))
                } else {
                    Finding::problem(
                        "exporters",
                        Level::Failure,
                        format!("the webhook is not reachable: {}", attempt.detail),
                        "check the URL and the network; `baton telemetry test` tries again",
                    )
                });
            }
        }
    }
    let otlp = crate::commands::telemetry::otlp_config_for(root);
    for warning in &otlp.warnings {
        out.push(Finding::problem(
            "exporters",
            Level::Warning,
            warning.clone(),
            "correct the OTEL_* variable",
        ));
    }
    if network && !otlp.disabled {
        for endpoint in [&otlp.traces, &otlp.metrics].into_iter().flatten() {
            let url = &endpoint.url.value;
            out.push(match reachable(url) {
                Ok(()) => Finding::ok(
                    "exporters",
                    format!("OTLP collector {url} accepts connections"),
                ),
                Err(why) => Finding::problem(
                    "exporters",
                    Level::Failure,
                    format!("OTLP collector {url} is not reachable: {why}"),
                    "start the collector or correct OTEL_EXPORTER_OTLP_ENDPOINT",
                ),
            });
        }
    }
    out
}

/// Whether a TCP connection to the URL's host and port opens within 3 seconds.
fn reachable(url: &str) -> Result<(), String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (scheme, rest) = url.split_once("://").ok_or("not a URL")?;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default_port = if scheme == "https" { 443 } else { 80 };
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:{default_port}")
    };
    let addr = target
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Whether `program args` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn git() -> Finding {
    if runs("git", &["--version"]) {
        Finding::ok("git", "git is installed")
    } else {
        Finding::problem(
            "git",
            Level::Warning,
            "git is not on PATH: runs record no commit, and flaky detection has no input identity without inputs",
            "install git",
        )
    }
}

fn shell() -> Finding {
    if runs("sh", &["-c", "exit 0"]) {
        Finding::ok("shell", "sh runs")
    } else {
        Finding::problem(
            "shell",
            Level::Failure,
            "sh cannot be run: no beat can run",
            "put a POSIX shell on PATH as sh",
        )
    }
}

fn clock(newest: Option<Timestamp>) -> Finding {
    let now = Timestamp::now();
    match newest {
        Some(newest) if newest.as_second() - now.as_second() > CLOCK_SKEW_SECS => Finding::problem(
            "clock",
            Level::Failure,
            format!(
                "the newest run started at {newest}, after this clock's {now}: the clock is behind"
            ),
            "set the clock (NTP); runs recorded now would sort before older ones",
        ),
        _ => Finding::ok("clock", format!("{now}")),
    }
}
