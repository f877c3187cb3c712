//! Reading a pipeline file from disk with the checks that come before parsing:
//! missing, not a regular file (a FIFO would block), empty, too large, binary,
//! byte-order mark, invalid UTF-8.

use std::fs;
use std::io::Read;
use std::path::Path;

use crate::diagnostic::{Code, Diagnostic, Severity};
use crate::tree::Pos;

/// Pipeline files are small; anything larger is a mistake (or an attack).
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Why a file could not be turned into text. Rendered as one line by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable(pub Diagnostic);

pub fn read_source(path: &Path) -> Result<String, Unreadable> {
    let fail = |pos: Option<Pos>, msg: String, fix: &str| {
        Unreadable(Diagnostic::new(Code::Unreadable, Severity::Critical, pos, msg).fix(fix))
    };
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => fail(
            None,
            "no such file".into(),
            "create one with `baton init` or pass the path of your pipeline file",
        ),
        _ => fail(
            None,
            format!("cannot read the file: {e}"),
            "check the path and permissions",
        ),
    })?;
    if meta.is_dir() {
        return Err(fail(
            None,
            "is a directory, not a pipeline file".into(),
            "pass the file",
        ));
    }
    if let Some(kind) = special_kind(&meta) {
        // Never opened: opening a FIFO waits for a writer, a device may never end.
        return Err(fail(
            None,
            format!("is {kind}, not a regular file"),
            "pass a regular pipeline file",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            None,
            format!(
                "file is {:.1} MB; pipeline files are limited to {} MB",
                meta.len() as f64 / 1e6,
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            "this does not look like a pipeline file",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            fail(
                None,
                format!("cannot read the file: {e}"),
                "check permissions",
            )
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(fail(
            None,
            "file is empty".into(),
            "write a pipeline (see `baton init`) or remove the file",
        ));
    }
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(fail(
            Some(Pos { line: 1, col: 1 }),
            "file starts with a UTF-8 byte-order mark".into(),
            "save the file as UTF-8 without BOM",
        ));
    }
    if let Some(offset) = bytes.iter().position(|b| *b == 0) {
        return Err(fail(
            Some(pos_of(&bytes, offset)),
            "file is binary (it contains NUL bytes)".into(),
            "pass a YAML or JSON pipeline file",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let pos = pos_of(e.as_bytes(), offset);
        fail(Some(pos), "invalid UTF-8".into(), "save the file as UTF-8")
    })
}

/// What the file at `path` is when it exists and is neither a regular file nor a
/// directory (`a FIFO (named pipe)`, ...): not something to read a pipeline from.
pub fn special_file(path: &Path) -> Option<&'static str> {
    special_kind(&fs::metadata(path).ok()?)
}

fn special_kind(meta: &fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_file() || kind.is_dir() {
        return None;
    }
    Some(if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "a special file"
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn pos_of(bytes: &[u8], offset: usize) -> Pos {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() as u32 + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count() as u32
        + 1;
    Pos { line, col }
}
