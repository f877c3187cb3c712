//! `--output grouped`: each beat's output is held until the beat ends, then printed
//! whole as one block. A block stays in memory up to a byte budget; beyond it, it
//! goes on in an anonymous temporary file, so a beat writing gigabytes does not
//! grow baton's memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};

/// Bytes of a beat's block held in memory before it moves to a temporary file.
pub(super) const MEMORY_BUDGET: usize = 1024 * 1024;

const FILE_BUFFER: usize = 64 * 1024;

/// The blocks of the beats that have printed something and not finished yet.
pub(super) struct Blocks {
    budget: usize,
    held: HashMap<String, Block>,
}

/// One beat's output so far: each line followed by `\n`.
#[derive(Default)]
pub(super) struct Block {
    memory: Vec<u8>,
    file: Option<BufWriter<File>>,
    /// Lines that could not be kept (no temporary file could be made or written).
    lost: Option<Lost>,
}

pub(super) struct Lost {
    pub lines: u64,
    pub error: io::Error,
}

impl Blocks {
    pub(super) fn new(budget: usize) -> Self {
        Self {
            budget,
            held: HashMap::new(),
        }
    }

    pub(super) fn push(&mut self, beat: &str, line: &str) {
        // Looked up before inserting: a beat's name is copied once per block, not
        // once per line.
        let block = match self.held.get_mut(beat) {
            Some(block) => block,
            None => self.held.entry(beat.to_owned()).or_default(),
        };
        block.push(line.as_bytes(), self.budget);
    }

    /// The beat's block, which it no longer holds (empty if it printed nothing).
    pub(super) fn take(&mut self, beat: &str) -> Block {
        self.held.remove(beat).unwrap_or_default()
    }
}

impl Block {
    fn push(&mut self, line: &[u8], budget: usize) {
        if let Some(lost) = &mut self.lost {
            lost.lines += 1;
            return;
        }
        if self.file.is_none() && self.memory.len() + line.len() < budget {
            self.memory.extend_from_slice(line);
            self.memory.push(b'\n');
            return;
        }
        if let Err(error) = self.push_to_file(line) {
            self.lost = Some(Lost { lines: 1, error });
        }
    }

    fn push_to_file(&mut self, line: &[u8]) -> io::Result<()> {
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = BufWriter::with_capacity(FILE_BUFFER, tempfile::tempfile()?);
                file.write_all(&self.memory)?;
                self.memory = Vec::new();
                self.file.insert(file)
            }
        };
        file.write_all(line)?;
        file.write_all(b"\n")
    }

    /// Writes the block's lines to `out`, reading a spilled block back in chunks;
    /// tells the lines it could not keep, if any.
    pub(super) fn write_to(self, out: &mut impl Write) -> io::Result<Option<Lost>> {
        out.write_all(&self.memory)?;
        if let Some(file) = self.file {
            let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.rewind()?;
            io::copy(&mut file, out)?;
        }
        Ok(self.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(block: Block) -> String {
        let mut out = Vec::new();
        let lost = block.write_to(&mut out).expect("written");
        assert!(lost.is_none());
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn a_small_block_stays_in_memory() {
        let mut blocks = Blocks::new(100);
        blocks.push("a", "one");
        blocks.push("b", "other");
        blocks.push("a", "two");
        let a = blocks.take("a");
        assert!(a.file.is_none());
        assert_eq!(printed(a), "one\ntwo\n");
        assert_eq!(printed(blocks.take("b")), "other\n");
        assert_eq!(printed(blocks.take("never")), "");
    }

    #[test]
    fn a_block_over_its_budget_goes_on_in_a_file_whole_and_in_order() {
        let mut blocks = Blocks::new(10);
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        for line in &lines {
            blocks.push("a", line);
        }
        let a = blocks.take("a");
        assert!(a.file.is_some());
        assert!(a.memory.is_empty(), "the memory is given back");
        let mut expected = lines.join("\n");
        expected.push('\n');
        assert_eq!(printed(a), expected);
    }

    #[test]
    fn a_line_longer_than_the_budget_is_kept_whole() {
        let mut blocks = Blocks::new(4);
        blocks.push("a", "ab");
        blocks.push("a", &"x".repeat(100));
        blocks.push("a", "end");
        assert_eq!(
            printed(blocks.take("a")),
            format!("ab\n{}\nend\n", "x".repeat(100))
        );
    }
}
