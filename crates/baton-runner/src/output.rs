//! A beat's output: each stream is cut into lines, declared secret values are
//! replaced by `***`, the raw (masked) bytes go to the beat's log file and every
//! complete line goes out as a [`RunEvent::OutputLine`].
//!
//! Memory stays bounded whatever a beat writes: a stream keeps at most one partial
//! line of [`CHUNK`] bytes (plus the length of the longest secret); a longer line
//! without a newline is flushed in chunks, each one its own event, keeping back the
//! last `longest secret - 1` bytes so that a secret spanning the cut is still masked.
//! Events go to a bounded channel in the scheduler, so a slow consumer slows the
//! beat (its pipe fills) instead of growing baton. Invalid UTF-8 is written to the
//! log as it came and converted lossily for events.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use baton_model::{OutputStream, RunEvent};

/// Longest piece of a line kept in memory before it is flushed without a newline.
pub const CHUNK: usize = 64 * 1024;

/// What a secret value is replaced with.
pub const MASK: &str = "***";

/// Replaces declared secret values by [`MASK`].
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// Longest first, so that the longest secret starting at a position wins.
    patterns: Vec<Vec<u8>>,
    /// `first[b]`: some pattern starts with byte `b` (a cheap pre-filter).
    first: Vec<bool>,
}

impl Masker {
    /// A masker for these secret values. Empty values are ignored; a multi-line
    /// value is also masked line by line, since output is masked per line.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            let pieces =
                std::iter::once(secret).chain(secret.lines().map(|l| l.trim_end_matches('\r')));
            for piece in pieces {
                if !piece.is_empty() && !patterns.iter().any(|p| p == piece.as_bytes()) {
                    patterns.push(piece.as_bytes().to_vec());
                }
            }
        }
        patterns.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        let mut first = vec![false; 256];
        for p in &patterns {
            first[usize::from(p[0])] = true;
        }
        Self { patterns, first }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Length in bytes of the longest secret (0 without secrets).
    pub fn longest(&self) -> usize {
        self.patterns.first().map_or(0, Vec::len)
    }

    /// The leftmost, then longest, secret in `hay` starting at `from` or later.
    fn find(&self, hay: &[u8], from: usize) -> Option<(usize, usize)> {
        if self.patterns.is_empty() {
            return None;
        }
        (from..hay.len())
            .filter(|&i| self.first[usize::from(hay[i])])
            .find_map(|i| {
                self.patterns
                    .iter()
                    .find(|p| hay[i..].starts_with(p))
                    .map(|p| (i, i + p.len()))
            })
    }

    /// `bytes` with every secret replaced by [`MASK`].
    pub fn mask<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        let Some(mut found) = self.find(bytes, 0) else {
            return Cow::Borrowed(bytes);
        };
        let mut out = Vec::with_capacity(bytes.len());
        let mut at = 0;
        loop {
            let (start, end) = found;
            out.extend_from_slice(&bytes[at..start]);
            out.extend_from_slice(MASK.as_bytes());
            at = end;
            match self.find(bytes, at) {
                Some(next) => found = next,
                None => break,
            }
        }
        out.extend_from_slice(&bytes[at..]);
        Cow::Owned(out)
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn mask_str(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.mask(text.as_bytes())).into_owned()
    }

    /// Where to cut `buf` (longer than `want + longest - 1`) near `want` so that
    /// no secret is split: `want`, moved back to a UTF-8 character boundary, or
    /// moved forward past a secret that spans it.
    fn cut(&self, buf: &[u8], want: usize) -> usize {
        let mut cut = want.min(buf.len());
        let floor = cut.saturating_sub(3);
        while cut > floor && cut < buf.len() && (buf[cut] & 0xC0) == 0x80 {
            cut -= 1;
        }
        if cut == floor && cut < buf.len() && (buf[cut] & 0xC0) == 0x80 {
            cut = want.min(buf.len()); // not UTF-8 anyway: cut where asked
        }
        let window = &buf[..(want + self.longest()).min(buf.len())];
        let mut from = 0;
        while let Some((start, end)) = self.find(window, from) {
            if start >= cut {
                break;
            }
            if end > cut {
                return end;
            }
            from = end;
        }
        cut
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("failed to write the log {}", .path.display())]
    Log {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Whether `dir` takes a small write now: a probe file is written (a page, what
/// appending a line needs) and removed. A full or read-only file system fails it.
pub fn takes_writes(dir: &Path) -> bool {
    let probe = dir.join(format!(".baton-probe-{}", std::process::id()));
    let written = File::create(&probe).and_then(|mut f| f.write_all(&[0; 4096]));
    let _ = fs::remove_file(&probe);
    written.is_ok()
}

/// Where a beat's events go: the scheduler's bounded channel, or a test's vector.
pub type Emit = dyn Fn(RunEvent) + Send + Sync;

/// The output side of one beat (all its attempts and its rollback): one log file
/// shared by its streams, one masker, one place events go. Cheap to clone.
#[derive(Clone)]
pub struct BeatOutput {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BeatOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeatOutput")
            .field("beat", &self.shared.beat)
            .field("log_path", &self.shared.log_path)
            .finish_non_exhaustive()
    }
}

struct Shared {
    beat: String,
    masker: Arc<Masker>,
    emit: Arc<Emit>,
    log_path: Option<PathBuf>,
    log: Mutex<LogState>,
}

#[derive(Default)]
struct LogState {
    file: Option<BufWriter<File>>,
    /// The file (and its folder, if missing) is still to be created, at the
    /// first write.
    pending: Option<PathBuf>,
    /// Something was written to the log (the file exists, unless it could not
    /// be made: then [`BeatOutput::finish`] says so).
    written: bool,
    /// The first failure; writing stops after it.
    error: Option<io::Error>,
    /// Bytes written to the file so far.
    len: u64,
    /// The byte ranges `[start, end)` of the file that came from stderr, merged
    /// when they touch: what a cache entry keeps so that a replay tells the
    /// streams apart.
    stderr: Vec<[u64; 2]>,
}

impl LogState {
    fn open_pending(&mut self) {
        if let Some(path) = self.pending.take() {
            let open = || OpenOptions::new().create(true).append(true).open(&path);
            // Its folder is made with the first log written into it.
            let opened = match open() {
                Err(err) if err.kind() == io::ErrorKind::NotFound => path
                    .parent()
                    .map_or(Err(err), fs::create_dir_all)
                    .and_then(|()| open()),
                opened => opened,
            };
            match opened {
                Ok(file) => {
                    self.file = Some(BufWriter::with_capacity(CHUNK, file));
                }
                Err(err) => self.error = Some(err),
            }
        }
    }
}

impl BeatOutput {
    /// Output of `beat`, appended to the log at `log_path` (directories created
    /// now, the file at the first write: a beat that writes nothing leaves no
    /// file), or to no log when `None`. A log that cannot be opened is reported by
    /// [`BeatOutput::finish`]; events still flow.
    pub fn open(beat: &str, log_path: Option<&Path>, masker: Arc<Masker>, emit: Arc<Emit>) -> Self {
        let log = log_path.map(|path| (path, path.parent().map_or(Ok(()), fs::create_dir_all)));
        Self::open_prepared(beat, log, masker, emit)
    }

    /// As [`BeatOutput::open`], for a log whose folder is made at the first write
    /// if it is missing (`Ok`), or cannot be made (`Err`, reported by
    /// [`BeatOutput::finish`]).
    pub fn open_prepared(
        beat: &str,
        log: Option<(&Path, io::Result<()>)>,
        masker: Arc<Masker>,
        emit: Arc<Emit>,
    ) -> Self {
        let mut state = LogState::default();
        let log_path = log.map(|(path, folder)| {
            match folder {
                Ok(()) => state.pending = Some(path.to_owned()),
                Err(err) => state.error = Some(err),
            }
            path.to_owned()
        });
        Self {
            shared: Arc::new(Shared {
                beat: beat.to_owned(),
                masker,
                emit,
                log_path,
                log: Mutex::new(state),
            }),
        }
    }

    pub fn beat(&self) -> &str {
        &self.shared.beat
    }

    pub fn masker(&self) -> &Masker {
        &self.shared.masker
    }

    pub fn log_path(&self) -> Option<&Path> {
        self.shared.log_path.as_deref()
    }

    /// Whether anything was written to the log. After [`BeatOutput::finish`], also
    /// that the log file exists and holds something: a log that could not be made,
    /// or that nothing reached (a full disk), is not written. A beat that printed
    /// nothing, and had no note from baton, has no log.
    pub fn log_written(&self) -> bool {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .written
    }

    /// A writer for one stream; give each reader thread its own.
    pub fn stream(&self, stream: OutputStream) -> StreamWriter {
        StreamWriter {
            shared: Arc::clone(&self.shared),
            stream,
            buf: Vec::new(),
        }
    }

    /// The byte ranges `[start, end)` of the log that came from stderr.
    pub fn log_stderr_ranges(&self) -> Vec<[u64; 2]> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .stderr
            .clone()
    }

    /// Writes a line of baton's own (an attempt header, ...) to the log only.
    pub fn note(&self, text: &str) {
        let line = format!("[baton] {}\n", self.shared.masker.mask_str(text));
        self.shared.write_log(line.as_bytes());
    }

    /// Flushes the log, if anything was written; reports the first error making
    /// its folder or writing it.
    pub fn finish(&self) -> Result<(), OutputError> {
        let mut log = self
            .shared
            .log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(file) = log.file.as_mut()
            && let Err(err) = file.flush()
        {
            log.error.get_or_insert(err);
            log.file = None;
        }
        let error = log.error.take();
        if error.is_some()
            && let Some(path) = &self.shared.log_path
            && fs::metadata(path).is_ok_and(|m| m.len() == 0)
        {
            // Nothing reached it (a full disk): no record points at an empty file.
            let _ = fs::remove_file(path);
        }
        if error.is_some()
            && let Some(path) = &self.shared.log_path
            && !path.exists()
        {
            log.written = false;
        }
        match (error, &self.shared.log_path) {
            (Some(source), Some(path)) => Err(OutputError::Log {
                path: path.clone(),
                source,
            }),
            _ => Ok(()),
        }
    }
}

impl Shared {
    fn write_log(&self, bytes: &[u8]) {
        self.write_log_from(OutputStream::Stdout, bytes);
    }

    /// Appends `bytes` that `stream` wrote to the log.
    fn write_log_from(&self, stream: OutputStream, bytes: &[u8]) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.written = true;
        log.open_pending();
        let Some(file) = log.file.as_mut() else {
            return;
        };
        if let Err(err) = file.write_all(bytes) {
            log.error.get_or_insert(err);
            log.file = None;
            return;
        }
        let start = log.len;
        log.len += bytes.len() as u64;
        if stream == OutputStream::Stderr && !bytes.is_empty() {
            let end = log.len;
            match log.stderr.last_mut() {
                Some(last) if last[1] == start => last[1] = end,
                _ => log.stderr.push([start, end]),
            }
        }
    }

    /// One complete line (or a chunk of a long one): mask, log, emit.
    fn line(&self, stream: OutputStream, raw: &[u8]) {
        let masked = self.masker.mask(raw);
        self.write_log_from(stream, &masked);
        let mut text = String::from_utf8_lossy(&masked).into_owned();
        if text.ends_with('\n') {
            text.pop();
            if text.ends_with('\r') {
                text.pop();
            }
        }
        (self.emit)(RunEvent::OutputLine {
            beat: self.beat.clone(),
            stream,
            line: text,
        });
    }
}

/// Cuts one stream into lines. Dropping it flushes a last line without newline.
pub struct StreamWriter {
    shared: Arc<Shared>,
    stream: OutputStream,
    /// At most one partial line: never holds a newline between calls.
    buf: Vec<u8>,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("beat", &self.shared.beat)
            .field("stream", &self.stream)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl StreamWriter {
    /// Takes the next bytes the beat wrote, however they are split.
    pub fn write(&mut self, data: &[u8]) {
        let mut data = data;
        // Complete the buffered partial line first.
        if !self.buf.is_empty() {
            match memchr::memchr(b'\n', data) {
                Some(pos) => {
                    self.buf.extend_from_slice(&data[..=pos]);
                    let line = std::mem::take(&mut self.buf);
                    self.shared.line(self.stream, &line);
                    self.buf = line;
                    self.buf.clear();
                    data = &data[pos + 1..];
                }
                None => {
                    self.buf.extend_from_slice(data);
                    self.flush_long_line();
                    return;
                }
            }
        }
        // Whole lines straight from the caller's buffer.
        let mut start = 0;
        for pos in memchr::memchr_iter(b'\n', data) {
            self.shared.line(self.stream, &data[start..=pos]);
            start = pos + 1;
        }
        self.buf.extend_from_slice(&data[start..]);
        self.flush_long_line();
    }

    /// Flushes the partial line in chunks while it is longer than a chunk.
    fn flush_long_line(&mut self) {
        let keep = self.shared.masker.longest().saturating_sub(1);
        while self.buf.len() >= CHUNK + keep && self.buf.len() > CHUNK {
            let cut = self.shared.masker.cut(&self.buf, CHUNK).max(1);
            self.shared.line(self.stream, &self.buf[..cut]);
            self.buf.drain(..cut);
        }
    }

    /// Flushes what is left (a last line without newline).
    pub fn finish(self) {}
}

impl Drop for StreamWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            self.shared.line(self.stream, &rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    type Lines = Arc<Mutex<Vec<String>>>;

    fn collector() -> (Arc<Emit>, Lines) {
        let lines: Lines = Arc::default();
        let sink = Arc::clone(&lines);
        let emit: Arc<Emit> = Arc::new(move |event| {
            if let RunEvent::OutputLine { line, .. } = event {
                sink.lock().expect("not poisoned").push(line);
            }
        });
        (emit, lines)
    }

    fn run(secrets: &[&str], writes: &[&[u8]]) -> (Vec<String>, Vec<u8>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m/b.log");
        let (emit, lines) = collector();
        let out = BeatOutput::open("b", Some(&path), Arc::new(Masker::new(secrets)), emit);
        let mut w = out.stream(OutputStream::Stdout);
        for data in writes {
            w.write(data);
        }
        w.finish();
        out.finish().expect("log written");
        let log = fs::read(&path).expect("log exists");
        let lines = lines.lock().expect("not poisoned").clone();
        (lines, log)
    }

    #[test]
    fn lines_are_split_however_the_writes_fall() {
        let (lines, log) = run(&[], &[b"one\ntw", b"o\n", b"\nthree\r\nfour"]);
        assert_eq!(lines, ["one", "two", "", "three", "four"]);
        assert_eq!(log, b"one\ntwo\n\nthree\r\nfour");
    }

    #[test]
    fn secrets_are_masked_even_when_split_across_writes() {
        let (lines, log) = run(
            &["hunter2", "s3cr3t-value"],
            &[b"token=hun", b"ter2 and s3cr3t", b"-value\n"],
        );
        assert_eq!(lines, ["token=*** and ***"]);
        assert_eq!(log, b"token=*** and ***\n");
    }

    #[test]
    fn the_longest_secret_wins_and_multiline_secrets_mask_per_line() {
        let m = Masker::new(["abc", "abcdef", "line1\nline2"]);
        assert_eq!(m.mask_str("xabcdefx abc"), "x***x ***");
        assert_eq!(m.mask_str("line2"), "***");
        assert_eq!(Masker::new([""]).mask_str("anything"), "anything");
    }

    #[test]
    fn a_long_line_is_flushed_in_chunks_without_splitting_a_secret() {
        let secret = "TOPSECRETVALUE";
        // Place the secret across the first chunk boundary.
        let mut data = vec![b'x'; CHUNK - 5];
        data.extend_from_slice(secret.as_bytes());
        data.extend(std::iter::repeat_n(b'y', 3 * CHUNK));
        let writes: Vec<&[u8]> = data.chunks(1000).collect();
        let (lines, log) = run(&[secret], &writes);
        assert!(lines.len() >= 3, "flushed in chunks: {}", lines.len());
        assert!(lines.iter().all(|l| l.len() <= CHUNK + secret.len()));
        let joined: String = lines.concat();
        assert!(!joined.contains(secret) && !joined.contains("TOPSEC"));
        assert_eq!(joined.matches(MASK).count(), 1);
        assert!(!String::from_utf8_lossy(&log).contains("TOPSEC"));
        assert_eq!(log.len(), data.len() - secret.len() + MASK.len());
    }

    #[test]
    fn the_log_remembers_which_bytes_came_from_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("b.log");
        let (emit, _) = collector();
        let out = BeatOutput::open("b", Some(&path), Arc::new(Masker::default()), emit);
        out.note("attempt 1 of 2");
        let mut stdout = out.stream(OutputStream::Stdout);
        let mut stderr = out.stream(OutputStream::Stderr);
        stdout.write(b"one\n");
        stderr.write(b"warn\n");
        stderr.write(b"more\n");
        stdout.write(b"two\n");
        stderr.write(b"last");
        drop((stdout, stderr));
        out.finish().expect("log written");
        let log = fs::read_to_string(&path).expect("log");
        assert_eq!(log, "[baton] attempt 1 of 2\none\nwarn\nmore\ntwo\nlast");
        let ranges: Vec<&str> = out
            .log_stderr_ranges()
            .iter()
            .map(|[start, end]| &log[*start as usize..*end as usize])
            .collect();
        assert_eq!(ranges, ["warn\nmore\n", "last"], "adjacent lines merged");
    }

    #[test]
    fn invalid_utf8_is_kept_raw_in_the_log_and_lossy_in_events() {
        let (lines, log) = run(&[], &[b"bin\xff\xfe\x00end\n"]);
        assert_eq!(lines, ["bin\u{fffd}\u{fffd}\u{0}end"]);
        assert_eq!(log, b"bin\xff\xfe\x00end\n");
    }

    #[test]
    fn a_chunk_cut_does_not_split_a_utf8_character() {
        let mut data = vec![b'a'; CHUNK - 1];
        data.extend_from_slice("é".as_bytes()); // 2 bytes across the boundary
        data.extend(std::iter::repeat_n(b'b', CHUNK + 10));
        let (lines, _) = run(&[], &[&data]);
        assert!(
            lines.iter().all(|l| !l.contains('\u{fffd}')),
            "no replacement characters"
        );
        assert_eq!(lines.concat().len(), data.len());
    }

    #[test]
    fn an_unwritable_log_is_reported_but_events_flow() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").expect("write");
        let (emit, lines) = collector();
        let out = BeatOutput::open("b", Some(&blocker.join("b.log")), Arc::default(), emit);
        out.stream(OutputStream::Stderr).write(b"hello\n");
        let err = out.finish().expect_err("log cannot be created");
        assert!(
            err.to_string().starts_with("failed to write the log"),
            "{err}"
        );
        assert_eq!(*lines.lock().expect("not poisoned"), ["hello"]);
    }
}
