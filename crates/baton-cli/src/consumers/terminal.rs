//! The terminal view of a run: beat output (prefixed, grouped or quiet), and either
//! live progress lines with ETAs (on a terminal) or plain start/finish lines (CI).

mod echo;
mod grouped;

use baton_model::escape::escape_control;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::Duration;

use baton_model::{BeatRecord, BeatStatus, OutputStream, RunEvent};
use baton_report::format;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use owo_colors::OwoColorize;

use super::Consumer;
use crate::cli::OutputMode;

pub(crate) struct Terminal {
    mode: OutputMode,
    /// Prefix output lines with the beat name (beats can run at the same time).
    prefix: bool,
    color: bool,
    github_groups: bool,
    /// GitLab CI: grouped blocks are collapsible sections.
    gitlab_sections: bool,
    /// Blocks printed so far (GitLab section ids must be unique).
    blocks_printed: std::cell::Cell<usize>,
    progress: Option<Progress>,
    width: usize,
    /// The output of the running beats, in grouped mode.
    blocks: grouped::Blocks,
}

struct Progress {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    eta_ms: Box<EtaMs>,
    /// Dropped with the live lines: the terminal echoes `^C` again.
    _no_control_echo: echo::NoControlEcho,
}

/// A beat's expected duration in ms (the median of its history), when known yet.
type EtaMs = dyn Fn(&str) -> Option<u64> + Send;

impl Terminal {
    pub(crate) fn new(
        mode: OutputMode,
        prefix: bool,
        beat_names: &[String],
        eta_ms: impl Fn(&str) -> Option<u64> + Send + 'static,
    ) -> Self {
        let is_tty = std::io::stdout().is_terminal();
        let color = is_tty && std::env::var_os("NO_COLOR").is_none();
        let dumb = std::env::var_os("TERM").is_none_or(|t| t == "dumb");
        let progress =
            (is_tty && !dumb && std::env::var_os("BATON_NO_PROGRESS").is_none()).then(|| {
                Progress {
                    multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(20)),
                    bars: HashMap::new(),
                    eta_ms: Box::new(eta_ms),
                    _no_control_echo: echo::NoControlEcho::on_stdout(),
                }
            });
        Self {
            mode,
            prefix,
            color,
            github_groups: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            gitlab_sections: crate::consumers::ci::gitlab::on_gitlab(),
            blocks_printed: std::cell::Cell::new(0),
            progress,
            width: beat_names
                .iter()
                .map(String::len)
                .max()
                .unwrap_or(0)
                .min(28),
            blocks: grouped::Blocks::new(grouped::MEMORY_BUDGET),
        }
    }

    /// Every beat's live line goes: none stays in the scrollback.
    fn clear_live_lines(&mut self) {
        if let Some(p) = &mut self.progress {
            for (_, bar) in p.bars.drain() {
                bar.finish_and_clear();
            }
        }
    }

    /// Print one line without tearing the progress bars.
    fn line(&self, text: String) {
        match &self.progress {
            Some(p) => {
                let _ = p.multi.println(text);
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
            }
        }
    }

    /// Print `baton: {text}` on stderr without tearing the progress bars (and
    /// without panicking when stderr is gone: the run still has to be recorded).
    fn warn_line(&self, text: &str) {
        let text = escape_control(text);
        let write = || crate::notice::note(&text);
        match &self.progress {
            Some(p) => p.multi.suspend(write),
            None => write(),
        }
    }

    fn status_word(&self, status: BeatStatus) -> String {
        let word = status.as_str();
        if !self.color {
            return word.to_string();
        }
        match status {
            BeatStatus::Success => word.green().to_string(),
            BeatStatus::Failure | BeatStatus::Timeout => word.red().to_string(),
            BeatStatus::Cancelled | BeatStatus::Skipped => word.yellow().to_string(),
        }
    }

    fn restored_word(&self) -> String {
        if self.color {
            "restored".green().to_string()
        } else {
            "restored".to_owned()
        }
    }

    fn started(&mut self, beat: &str, attempt: u32) {
        let retry = if attempt > 1 {
            format!(" (attempt {attempt})")
        } else {
            String::new()
        };
        match &mut self.progress {
            Some(p) => {
                let usual = (p.eta_ms)(beat).map(Duration::from_millis);
                let timing = move |state: &ProgressState, w: &mut dyn fmt::Write| {
                    let _ = w.write_str(&timing_text(state.elapsed(), usual));
                };
                let style = ProgressStyle::with_template("{spinner} {msg} {timing}")
                    .map(|style| style.with_key("timing", timing))
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
                let bar = p.multi.add(ProgressBar::new_spinner());
                bar.set_style(style);
                bar.set_message(format!("{beat:<w$}{retry}", w = self.width));
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Some(old) = p.bars.insert(beat.to_string(), bar) {
                    old.finish_and_clear();
                }
            }
            None if self.mode != OutputMode::Quiet => self.line(format!("▶ {beat}{retry}")),
            None => {}
        }
    }

    fn output(&mut self, beat: &str, stream: OutputStream, line: &str) {
        match self.mode {
            OutputMode::Quiet => {}
            OutputMode::Grouped => self.blocks.push(beat, line),
            OutputMode::Prefixed => {
                let marker = if stream == OutputStream::Stderr {
                    "!"
                } else {
                    "|"
                };
                let text = if self.prefix {
                    let name = format!("{beat:<w$}", w = self.width);
                    let name = if self.color {
                        name.cyan().to_string()
                    } else {
                        name
                    };
                    format!("{name} {marker} {line}")
                } else {
                    line.to_string()
                };
                self.line(text);
            }
        }
    }

    /// A beat restored from the step cache: one line before its replayed output
    /// (in grouped mode, the first line of its block), naming the run that stored
    /// it when known. Quiet mode shows no output, so nothing is replayed to mark.
    fn restored(&mut self, beat: &str, from_label: Option<&str>) {
        let text = restored_marker(beat, from_label);
        match self.mode {
            OutputMode::Quiet => {}
            OutputMode::Grouped => self.blocks.push(beat, &text),
            OutputMode::Prefixed => self.line(text),
        }
    }

    /// Prints a beat's held output as one block under `header`, streamed (a
    /// block can be larger than memory), then lets it go.
    fn print_block(&self, header: &str, block: grouped::Block, log_path: Option<&str>) {
        let github = self.github_groups;
        let index = self.blocks_printed.get();
        self.blocks_printed.set(index + 1);
        let section = (self.gitlab_sections && !github)
            .then(|| crate::consumers::ci::gitlab::section_id(index, header));
        let write = || -> io::Result<()> {
            let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
            if github {
                writeln!(out, "::group::{header}")?;
            } else if let Some(id) = &section {
                out.write_all(crate::consumers::ci::gitlab::section_start(id, header).as_bytes())?;
            } else {
                writeln!(out, "── {header}")?;
            }
            if let Some(lost) = block.write_to(&mut out)? {
                writeln!(
                    out,
                    "… {} more line(s) not shown ({}); the log has them: {}",
                    lost.lines,
                    lost.error,
                    log_path.unwrap_or("no log file")
                )?;
            }
            if github {
                writeln!(out, "::endgroup::")?;
            } else if let Some(id) = &section {
                out.write_all(crate::consumers::ci::gitlab::section_end(id).as_bytes())?;
            }
            out.flush()
        };
        // A closed stdout is not the run's failure.
        let _ = match &self.progress {
            Some(p) => p.multi.suspend(write),
            None => write(),
        };
    }

    fn finished(&mut self, record: &BeatRecord) {
        let (beat, status, duration_ms) = (&record.beat, record.status, record.duration_ms);
        if let Some(p) = &mut self.progress
            && let Some(bar) = p.bars.remove(beat)
        {
            bar.finish_and_clear();
        }
        // A restored beat did not run now: its line says so, not a fresh success.
        let word = if record.restored {
            "restored"
        } else {
            status.as_str()
        };
        if self.mode == OutputMode::Grouped {
            let header = format!("{beat} ({word}, {})", format::duration_ms(duration_ms));
            let block = self.blocks.take(beat);
            self.print_block(&header, block, record.log_path.as_deref());
            return;
        }
        if self.mode == OutputMode::Quiet || status == BeatStatus::Skipped {
            return;
        }
        let mark = match status {
            BeatStatus::Success => "✔",
            BeatStatus::Skipped | BeatStatus::Cancelled => "○",
            _ => "✘",
        };
        let why = record
            .reason
            .as_deref()
            .map(|r| format!(" — {}", escape_control(r)))
            .unwrap_or_default();
        let word = if record.restored {
            self.restored_word()
        } else {
            self.status_word(status)
        };
        self.line(format!(
            "{mark} {beat:<w$} {word} in {}{why}",
            format::duration_ms(duration_ms),
            w = self.width
        ));
    }
}

/// The line that marks a replay: `↺ build restored from cache (run
/// build-20261203-101500)`, without the run when the entry does not name it.
fn restored_marker(beat: &str, from_label: Option<&str>) -> String {
    match from_label {
        Some(label) => format!(
            "↺ {beat} restored from cache (run {})",
            escape_control(label)
        ),
        None => format!("↺ {beat} restored from cache"),
    }
}

/// What a stop request does now: `stopping: interrupted 2 running beat(s) ...`.
fn stopping_notice(kill: bool, running: usize, signal: Option<i32>) -> String {
    let again = match signal {
        None | Some(libc::SIGINT) => "Ctrl-C again",
        Some(libc::SIGTERM) => "SIGTERM again",
        Some(_) => "the signal again",
    };
    match (kill, running) {
        (true, 0) => "killing what still runs".to_owned(),
        (true, n) => format!("killing {n} running beat(s)"),
        (false, 0) => {
            format!(
                "stopping: nothing new starts; a rollback under way finishes ({again} kills it)"
            )
        }
        (false, n) => format!(
            "stopping: interrupted {n} running beat(s), waiting for them to end ({again} kills them)"
        ),
    }
}

impl Consumer for Terminal {
    fn handle(&mut self, event: &RunEvent) {
        match event {
            RunEvent::RunStarted { run, planned_beats } => {
                if self.mode != OutputMode::Quiet {
                    self.line(crate::notice::text(
                        crate::notice::Kind::Note,
                        format_args!(
                            "running {} ({} beat{}, level {}) as {}",
                            run.pipeline_name,
                            planned_beats.len(),
                            if planned_beats.len() == 1 { "" } else { "s" },
                            run.level,
                            run.label
                        ),
                    ));
                }
            }
            RunEvent::BeatStarted { beat, attempt, .. } => self.started(beat, *attempt),
            RunEvent::BeatRestored {
                beat, from_label, ..
            } => self.restored(beat, from_label.as_deref()),
            RunEvent::OutputLine { beat, stream, line } => self.output(beat, *stream, line),
            RunEvent::BeatFinished { record } => self.finished(record),
            RunEvent::RollbackFinished { record } => {
                // The rollback's output was held under the beat's name, after the
                // beat's own block.
                let block = self.blocks.take(&record.beat);
                let Some(rollback) = &record.rollback else {
                    return;
                };
                if self.mode == OutputMode::Grouped {
                    let header = format!(
                        "{} rollback ({}, {})",
                        record.beat,
                        rollback.status.as_str(),
                        format::duration_ms(rollback.duration_ms)
                    );
                    self.print_block(&header, block, record.log_path.as_deref());
                    return;
                }
                self.line(format!("↺ {} {}", record.beat, format::rollback(rollback)));
            }
            RunEvent::Stopping { kill, running } => {
                let signal = baton_runner::first_interrupt_signal();
                if signal == Some(libc::SIGHUP) {
                    // The terminal is gone: no more live lines to draw on it.
                    if let Some(p) = &self.progress {
                        p.multi.set_draw_target(ProgressDrawTarget::hidden());
                    }
                }
                self.warn_line(&stopping_notice(*kill, running.len(), signal));
            }
            RunEvent::Warning { message } => self.warn_line(&format!("warning: {message}")),
            RunEvent::RecordingFailed { .. } => {}
            RunEvent::RunFinished { .. } => self.clear_live_lines(),
        }
    }
}

impl Drop for Terminal {
    /// Also when the run ended without its last event.
    fn drop(&mut self) {
        self.clear_live_lines();
    }
}

/// The time part of a live line: the elapsed time and, when the beat has a usual
/// duration (the median of its history), its ETA.
fn timing_text(elapsed: Duration, usual: Option<Duration>) -> String {
    let shown = format!("{:>4}", whole_seconds(elapsed.as_secs()));
    match usual {
        Some(usual) => format!("{shown} ({})", eta_text(usual, elapsed)),
        None => shown,
    }
}

/// The time left until `usual`, or how far past it the beat runs; in whole
/// seconds that add up with the elapsed time shown next to it.
fn eta_text(usual: Duration, elapsed: Duration) -> String {
    let usual = (usual.as_millis() + 500) / 1_000;
    let elapsed = u128::from(elapsed.as_secs());
    if elapsed <= usual {
        format!("eta {}", whole_seconds(usual - elapsed))
    } else {
        format!("+{} over usual", whole_seconds(elapsed - usual))
    }
}

/// Whole seconds as every duration reads: `4s`, `2m05s`, `1h02m00s`.
fn whole_seconds(secs: impl Into<u128>) -> String {
    match u64::try_from(secs.into()).unwrap_or(u64::MAX) {
        // Not `0ms`: the clock counts whole seconds.
        0 => "0s".to_owned(),
        secs => baton_model::format_duration(Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_is_marked_with_the_run_that_stored_it_when_known() {
        assert_eq!(
            restored_marker("build", Some("build-20261203-101500")),
            "↺ build restored from cache (run build-20261203-101500)"
        );
        assert_eq!(
            restored_marker("build", None),
            "↺ build restored from cache"
        );
    }

    #[test]
    fn the_eta_counts_down_then_tells_how_far_over() {
        let secs = Duration::from_secs;
        let eta = |elapsed| eta_text(secs(6), elapsed);
        assert_eq!(eta(secs(0)), "eta 6s");
        assert_eq!(eta(secs(2)), "eta 4s");
        assert_eq!(eta(Duration::from_millis(5_900)), "eta 1s");
        assert_eq!(eta(Duration::from_millis(6_400)), "eta 0s");
        assert_eq!(eta(secs(8)), "+2s over usual");
        assert_eq!(eta(Duration::from_millis(8_900)), "+2s over usual");
        assert_eq!(eta_text(Duration::from_millis(5_600), secs(2)), "eta 4s");
        assert_eq!(eta_text(secs(200), secs(75)), "eta 2m05s");
        assert_eq!(eta_text(secs(60), secs(3_780)), "+1h02m over usual");
    }

    #[test]
    fn the_time_part_adds_up_and_has_no_eta_without_history() {
        let ms = Duration::from_millis;
        assert_eq!(timing_text(ms(2_700), Some(ms(6_000))), "  2s (eta 4s)");
        assert_eq!(
            timing_text(ms(8_100), Some(ms(6_000))),
            "  8s (+2s over usual)"
        );
        assert_eq!(timing_text(ms(2_700), None), "  2s");
        assert_eq!(timing_text(ms(125_000), None), "2m05s");
    }
}
