//! `baton import FILE|-`: runs written as JSON Lines (by `baton export`, or by any
//! tool in the format of docs/import-format.md) into the history, which is created
//! when there is none.
//!
//! Streams: one thread reads and checks lines, the other stores them in batches
//! (one transaction each), so memory stays bounded whatever the file's size. Runs
//! already in the store are skipped (import is idempotent by run id). A bad line is
//! reported as `FILE:LINE: what is wrong` on stderr and skipped whole; the rest is
//! kept. Exit 0 when every line was imported or already present, 1 when some were
//! rejected.

pub(crate) mod line;
mod lines;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use anyhow::Context;
use baton_model::escape::escape_control;
use baton_model::{BeatRecord, RunRecord};
use baton_store::{HistoryStore, StoreError};
use uuid::Uuid;

use self::line::Parsed;
use self::lines::{Line, Lines};
use crate::cli::{ImportArgs, StoreArgs};
use crate::exit::Exit;
use crate::state::StateDir;

/// Longer lines are rejected without being read whole.
const MAX_LINE_BYTES: usize = 64 << 20;
/// A batch is stored in one transaction when it has this many runs ...
const BATCH_RUNS: usize = 1_000;
/// ... or this many beats.
const BATCH_BEATS: usize = 20_000;

pub(crate) fn run(args: &ImportArgs) -> anyhow::Result<Exit> {
    let (name, input) = open_input(&args.input)?;
    let store = open_store(&args.store)?;
    let tally = import(store.as_ref(), &name, input)?;
    println!("{}", tally.summary());
    Ok(if tally.rejected == 0 {
        Exit::Success
    } else {
        Exit::InputRejected
    })
}

/// The input and the name its lines are reported under.
fn open_input(input: &str) -> anyhow::Result<(String, Box<dyn io::Read + Send>)> {
    if input == "-" {
        return Ok(("<stdin>".to_owned(), Box::new(io::stdin())));
    }
    let path = Path::new(input);
    if path.is_dir() {
        crate::usage_bail!("{input}: is a directory, not a file of runs");
    }
    match File::open(path) {
        Ok(file) => Ok((input.to_owned(), Box::new(file))),
        Err(err) => crate::usage_bail!("failed to open {input}: {err}"),
    }
}

/// The history of `-f FILE`, `$BATON_DIR` or `.baton/` here, created when absent
/// (also what `baton ingest` writes into).
pub(crate) fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn HistoryStore>> {
    let path = baton_config::locate(args.file.as_deref());
    if let Some(kind) = baton_config::special_file(&path) {
        crate::usage_bail!("{}: is {kind}, not a regular file", path.display());
    }
    if args.file.is_some() && !path.exists() {
        crate::usage_bail!("failed to find the pipeline file {}", path.display());
    }
    StateDir::for_pipeline_file(&path)
        .open_store()
        .context("failed to open the history")
}

/// What an import did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    runs: u64,
    beats: u64,
    present: u64,
    rejected: u64,
}

impl Tally {
    fn summary(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "imported {} ({}), {} already present, {} rejected",
            plural(self.runs, "run", "runs"),
            plural(self.beats, "beat", "beats"),
            self.present,
            self.rejected
        )
    }
}

/// Checked runs on their way to the store, with the line each came from.
#[derive(Default)]
struct Batch {
    runs: Vec<RunRecord>,
    beats: Vec<BeatRecord>,
    /// Per run: its line and its beats in `beats`.
    spans: Vec<(u64, Range<usize>)>,
}

impl Batch {
    fn push(&mut self, line: u64, parsed: Parsed) {
        let start = self.beats.len();
        self.beats.extend(parsed.beats);
        self.spans.push((line, start..self.beats.len()));
        self.runs.push(parsed.run);
    }

    fn is_full(&self) -> bool {
        self.runs.len() >= BATCH_RUNS || self.beats.len() >= BATCH_BEATS
    }
}

/// Reads every line of `input` and stores the good ones in `store`.
fn import(
    store: &dyn HistoryStore,
    name: &str,
    input: Box<dyn io::Read + Send>,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let outcome: anyhow::Result<()> = std::thread::scope(|scope| {
        let (send, receive) = sync_channel::<Batch>(1);
        let reader = std::thread::Builder::new()
            .name("baton-import-read".to_owned())
            .spawn_scoped(scope, move || {
                let input = BufReader::with_capacity(1 << 20, input);
                read_batches(input, name, MAX_LINE_BYTES, &send)
            })
            .context("failed to start the reading thread")?;
        let stored = store_batches(store, name, &receive, &mut tally);
        // Stop the reader if storing failed (its next send fails), then wait for it.
        drop(receive);
        let read = reader
            .join()
            .map_err(|_| anyhow::anyhow!("failed to read {name}: the reading thread panicked"))?;
        stored?;
        let rejected = read.with_context(|| format!("failed to read {name}"))?;
        tally.rejected += rejected;
        Ok(())
    });
    if let Err(err) = outcome {
        // What was stored before the error stays (whole runs): say how far it got.
        println!("{}", tally.summary());
        return Err(
            err.context("the import stopped; running it again skips the runs already imported")
        );
    }
    Ok(tally)
}

/// Lines read and not yet parsed: their bytes and, per line, its number and place
/// (`None`: longer than the cap, skipped).
struct Chunk {
    seq: u64,
    data: Vec<u8>,
    lines: Vec<(u64, Option<Range<usize>>)>,
}

/// Lines per chunk, at most ...
const CHUNK_LINES: usize = 512;
/// ... and bytes (a longer line makes a chunk of its own).
const CHUNK_BYTES: usize = 4 << 20;

/// A chunk parsed: each line's run or why it was rejected (blank lines left out).
struct ParsedChunk {
    seq: u64,
    lines: Vec<(u64, Result<Parsed, String>)>,
}

/// Reads and checks lines, sending good runs in batches; returns how many lines it
/// rejected (each reported on stderr, in line order).
///
/// One thread reads lines into chunks, a few parse them (parsing is most of the
/// work of an import), and this one puts them back in order, drops duplicate run
/// ids and fills the batches.
fn read_batches(
    input: impl BufRead + Send,
    name: &str,
    cap: usize,
    send: &SyncSender<Batch>,
) -> io::Result<u64> {
    let parsers = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    std::thread::scope(|scope| {
        let (send_chunk, receive_chunk) = sync_channel::<Chunk>(parsers * 2);
        let (send_parsed, receive_parsed) = sync_channel::<ParsedChunk>(parsers * 2);
        let reader = scope.spawn(move || read_chunks(input, cap, &send_chunk));
        // Shared by the parsers; gone with the last of them, which stops the reader.
        let receive_chunk = Arc::new(std::sync::Mutex::new(receive_chunk));
        for _ in 0..parsers {
            let send_parsed = send_parsed.clone();
            let receive_chunk = Arc::clone(&receive_chunk);
            scope.spawn(move || {
                loop {
                    let next = receive_chunk
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .recv();
                    let Ok(chunk) = next else { return };
                    if send_parsed.send(parse_chunk(chunk, cap)).is_err() {
                        return;
                    }
                }
            });
        }
        drop((send_parsed, receive_chunk));
        let rejected = collect(name, &receive_parsed, send);
        // Unblock the other threads if the storing side stopped early.
        drop(receive_parsed);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reading thread panicked")));
        read.map(|()| rejected)
    })
}

/// Cuts the input into chunks of lines.
fn read_chunks(input: impl BufRead, cap: usize, send: &SyncSender<Chunk>) -> io::Result<()> {
    let mut lines = Lines::new(input, cap);
    let mut seq = 0;
    let new_chunk = |seq| Chunk {
        seq,
        data: Vec::with_capacity(CHUNK_BYTES),
        lines: Vec::with_capacity(CHUNK_LINES),
    };
    let mut chunk = new_chunk(seq);
    while let Some((number, line)) = lines.next_line()? {
        match line {
            Line::TooLong => chunk.lines.push((number, None)),
            Line::Text(text) => {
                let start = chunk.data.len();
                chunk.data.extend_from_slice(text);
                chunk.lines.push((number, Some(start..chunk.data.len())));
            }
        }
        if chunk.lines.len() >= CHUNK_LINES || chunk.data.len() >= CHUNK_BYTES {
            seq += 1;
            if send
                .send(std::mem::replace(&mut chunk, new_chunk(seq)))
                .is_err()
            {
                return Ok(());
            }
        }
    }
    if !chunk.lines.is_empty() {
        let _ = send.send(chunk);
    }
    Ok(())
}

fn parse_chunk(chunk: Chunk, cap: usize) -> ParsedChunk {
    let lines = chunk
        .lines
        .into_iter()
        .filter_map(|(number, place)| {
            let Some(place) = place else {
                return Some((number, Err(format!("line longer than {} MiB", cap >> 20))));
            };
            let text = &chunk.data[place];
            if text.iter().all(u8::is_ascii_whitespace) {
                return None;
            }
            Some((number, line::parse(text)))
        })
        .collect();
    ParsedChunk {
        seq: chunk.seq,
        lines,
    }
}

/// Takes parsed chunks back in order, reports rejected lines, drops a second line
/// with a run id already seen and sends the rest in batches; returns how many lines
/// it rejected.
fn collect(name: &str, receive: &Receiver<ParsedChunk>, send: &SyncSender<Batch>) -> u64 {
    // Every run id kept so far, with its line: a second line with the same id is
    // rejected. 24 bytes a run.
    let mut seen: HashMap<Uuid, u64> = HashMap::new();
    let mut waiting: std::collections::BTreeMap<u64, ParsedChunk> = Default::default();
    let mut next = 0;
    let mut rejected = 0;
    let mut batch = Batch::default();
    for parsed in receive {
        waiting.insert(parsed.seq, parsed);
        while let Some(chunk) = waiting.remove(&next) {
            next += 1;
            for (number, outcome) in chunk.lines {
                let parsed = match outcome {
                    Ok(parsed) => parsed,
                    Err(why) => {
                        reject(name, number, &why);
                        rejected += 1;
                        continue;
                    }
                };
                if let Some(first) = seen.get(&parsed.run.run_id) {
                    let why = format!("run {} is already on line {first}", parsed.run.run_id);
                    reject(name, number, &why);
                    rejected += 1;
                    continue;
                }
                seen.insert(parsed.run.run_id, number);
                batch.push(number, parsed);
                if batch.is_full() && send.send(std::mem::take(&mut batch)).is_err() {
                    // The storing side stopped on an error of its own.
                    return rejected;
                }
            }
        }
    }
    if !batch.runs.is_empty() {
        let _ = send.send(batch);
    }
    rejected
}

/// `FILE:LINE: why` on stderr.
fn reject(name: &str, line: u64, why: &str) {
    let _ = writeln!(
        io::stderr().lock(),
        "{}:{line}: {}",
        escape_control(name),
        escape_control(why)
    );
}

/// Stores each batch in one transaction. A batch the store refuses is stored run
/// by run, so that the one record it cannot hold is rejected with its line and
/// the others kept; an error of the store itself (disk full, ...) stops the import.
fn store_batches(
    store: &dyn HistoryStore,
    name: &str,
    receive: &Receiver<Batch>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    for batch in receive {
        let Batch { runs, beats, spans } = batch;
        match store.import_runs(&runs, &beats) {
            Ok(present) => {
                for (run, (_, span)) in runs.iter().zip(&spans) {
                    tally.count(present.contains(&run.run_id), span.len());
                }
            }
            Err(err) if is_about_a_record(&err) => {
                for (run, (number, span)) in runs.iter().zip(&spans) {
                    let its_beats = &beats[span.clone()];
                    match store.import_runs(std::slice::from_ref(run), its_beats) {
                        Ok(present) => tally.count(!present.is_empty(), span.len()),
                        Err(err) if is_about_a_record(&err) => {
                            reject(name, *number, &baton_cache::error_chain(&err));
                            tally.rejected += 1;
                        }
                        Err(err) => return Err(err).context("failed to store the runs"),
                    }
                }
            }
            Err(err) => return Err(err).context("failed to store the runs"),
        }
    }
    Ok(())
}

impl Tally {
    fn count(&mut self, present: bool, beats: usize) {
        if present {
            self.present += 1;
        } else {
            self.runs += 1;
            self.beats += beats as u64;
        }
    }
}

/// An error about one record the store cannot hold, not about the store.
fn is_about_a_record(err: &StoreError) -> bool {
    matches!(err, StoreError::Encode { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"format_version":1,"run":{"run_id":"0190a000-0000-7000-8000-00000000000N","pipeline_id":"p","pipeline_name":"demo","started_at":"2026-11-02T10:00:00Z","status":"success"},"beats":[]}"#;

    fn good(n: u32) -> String {
        GOOD.replace("00N", &format!("{n:03}"))
    }

    #[test]
    fn batches_hold_checked_runs_and_long_lines_are_skipped() {
        let input = format!("{}\n{}\n\n{}\n", good(1), "x".repeat(400), good(2));
        let (send, receive) = sync_channel(8);
        let rejected =
            read_batches(input.as_bytes(), "f", 300, &send).expect("reads the whole input");
        drop(send);
        assert_eq!(rejected, 1);
        let batches: Vec<Batch> = receive.iter().collect();
        assert_eq!(batches.len(), 1);
        let lines: Vec<u64> = batches[0].spans.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![1, 4], "the blank line counts but is no run");
    }

    #[test]
    fn the_summary_reads_as_documented() {
        let tally = Tally {
            runs: 3,
            beats: 30,
            present: 2,
            rejected: 1,
        };
        assert_eq!(
            tally.summary(),
            "imported 3 runs (30 beats), 2 already present, 1 rejected"
        );
    }
}
