//! Lines of a file of any size with bounded memory: a line longer than the cap is
//! skipped as it streams past, never held whole.

use std::io::{self, BufRead};

/// What [`Lines::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Line<'a> {
    /// A line, without its `\n` (or `\r\n`).
    Text(&'a [u8]),
    /// A line longer than the cap; its bytes were skipped.
    TooLong,
}

pub(super) struct Lines<R> {
    reader: R,
    buf: Vec<u8>,
    cap: usize,
    /// How many lines were returned.
    number: u64,
}

impl<R: BufRead> Lines<R> {
    pub(super) fn new(reader: R, cap: usize) -> Self {
        Self {
            reader,
            buf: Vec::new(),
            cap,
            number: 0,
        }
    }

    /// The next line with its number (1 for the first), or `None` at the end of
    /// the input.
    pub(super) fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        // A buffer grown by one long line is not kept for the rest of the file.
        if self.buf.capacity() > 4 << 20 {
            self.buf = Vec::new();
        }
        self.buf.clear();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                if !read_any {
                    return Ok(None);
                }
                break;
            }
            read_any = true;
            let (chunk, used, ended) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], i + 1, true),
                None => (available, available.len(), false),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > self.cap {
                    too_long = true;
                    self.buf = Vec::new();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            self.reader.consume(used);
            if ended {
                break;
            }
        }
        self.number += 1;
        if too_long {
            return Ok(Some((self.number, Line::TooLong)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some((self.number, Line::Text(&self.buf))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], cap: usize) -> Vec<(u64, Result<String, ()>)> {
        let mut lines = Lines::new(io::BufReader::with_capacity(4, input), cap);
        let mut out = Vec::new();
        while let Some((number, line)) = lines.next_line().expect("read") {
            let line = match line {
                Line::Text(t) => Ok(String::from_utf8_lossy(t).into_owned()),
                Line::TooLong => Err(()),
            };
            out.push((number, line));
        }
        out
    }

    #[test]
    fn lines_are_numbered_and_a_last_line_needs_no_newline() {
        assert_eq!(
            all(b"ab\r\n\ncdefg\nh", 100),
            vec![
                (1, Ok("ab".into())),
                (2, Ok(String::new())),
                (3, Ok("cdefg".into())),
                (4, Ok("h".into()))
            ]
        );
        assert!(all(b"", 100).is_empty());
    }

    #[test]
    fn a_line_over_the_cap_is_skipped_and_the_next_ones_read() {
        assert_eq!(
            all(b"short\nmuch too long\nok\n", 6),
            vec![(1, Ok("short".into())), (2, Err(())), (3, Ok("ok".into()))]
        );
    }
}
