//! The terminal as the live lines draw on it. indicatif pads each line it draws to
//! the terminal's full width and leaves the cursor in the last column; the `^C` the
//! terminal echoes for a Ctrl-C then wraps onto a new line, the next redraw starts
//! one line too low, and the top live line stays behind in the scrollback. Here a
//! drawn line ends with a newline instead, so the cursor waits at the start of the
//! line below the live lines, where an echo does no harm; cursor moves make up for
//! that line.

use std::fmt;
use std::io::{self, BufWriter, Write};
use std::sync::{Mutex, PoisonError};

use indicatif::TermLike;

/// Rows and columns, when known.
type Size = fn() -> Option<(u16, u16)>;

pub struct Screen<W: Write> {
    state: Mutex<State<W>>,
    size: Size,
}

struct State<W: Write> {
    /// Written at each flush: one frame at a time.
    out: BufWriter<W>,
    /// The cursor is at the start of the line below the one indicatif believes it
    /// is on (the end of the last line it drew).
    below: bool,
    /// The next `write_str` is a line's padding (indicatif writes a line, then its
    /// padding).
    padding_next: bool,
}

impl Screen<io::Stdout> {
    pub fn stdout() -> Self {
        Self::new(io::stdout(), stdout_size)
    }
}

impl<W: Write + Send> Screen<W> {
    pub fn new(out: W, size: Size) -> Self {
        Self {
            state: Mutex::new(State {
                out: BufWriter::with_capacity(16 * 1024, out),
                below: false,
                padding_next: false,
            }),
            size,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State<W>) -> io::Result<R>) -> io::Result<R> {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl<W: Write> State<W> {
    /// Moves the cursor `n` lines up from where indicatif believes it is. Moving
    /// by 0 waits: the next line may be written where the cursor is.
    fn up(&mut self, n: usize) -> io::Result<()> {
        self.padding_next = false;
        if n == 0 {
            return Ok(());
        }
        let n = n + usize::from(std::mem::take(&mut self.below));
        write!(self.out, "\x1b[{n}A")
    }
}

fn stdout_size() -> Option<(u16, u16)> {
    // SAFETY: winsize is a plain C struct for which all-zero bytes are valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ only writes a winsize into the live `size`.
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

impl<W: Write> fmt::Debug for Screen<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Screen").finish_non_exhaustive()
    }
}

impl<W: Write + Send> TermLike for Screen<W> {
    fn width(&self) -> u16 {
        (self.size)().map_or(80, |(_, cols)| cols)
    }

    /// One row less: the cursor's line below the live lines takes one.
    fn height(&self) -> u16 {
        (self.size)().map_or(24, |(rows, _)| rows.saturating_sub(1).max(1))
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.with(|s| s.up(n))
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.with(|s| {
            s.padding_next = false;
            if n == 0 {
                return Ok(());
            }
            match n - usize::from(std::mem::take(&mut s.below)) {
                0 => Ok(()),
                n => write!(s.out, "\x1b[{n}B"),
            }
        })
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.with(|s| {
            s.padding_next = false;
            write!(s.out, "\x1b[{n}C")
        })
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.with(|s| {
            s.padding_next = false;
            write!(s.out, "\x1b[{n}D")
        })
    }

    fn write_line(&self, line: &str) -> io::Result<()> {
        self.with(|s| {
            s.padding_next = false;
            s.below = false;
            write!(s.out, "{line}\r\n")
        })
    }

    fn write_str(&self, text: &str) -> io::Result<()> {
        self.with(|s| {
            if std::mem::take(&mut s.padding_next) && text.bytes().all(|b| b == b' ') {
                // Instead of padding to the last column: clear the rest of the line
                // (not when the line filled it: that would erase its last
                // character) and go to the start of the next.
                if !text.is_empty() {
                    s.out.write_all(b"\x1b[K")?;
                }
                s.below = true;
                return s.out.write_all(b"\r\n");
            }
            // A line starts where indicatif expects it: after the previous line,
            // which is where the cursor is.
            s.below = false;
            s.padding_next = true;
            s.out.write_all(text.as_bytes())
        })
    }

    fn clear_line(&self) -> io::Result<()> {
        self.with(|s| {
            if std::mem::take(&mut s.below) {
                s.out.write_all(b"\x1b[1A")?;
            }
            s.padding_next = false;
            s.out.write_all(b"\r\x1b[2K")
        })
    }

    fn flush(&self) -> io::Result<()> {
        self.with(|s| s.out.flush())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

    use super::*;

    const COLS: usize = 40;

    /// What the terminal shows for what was written to it: printable ASCII, `\r`,
    /// `\n` (as `\r\n`, the tty's default) and the escapes above, with the pending
    /// wrap of a line written to its last column.
    #[derive(Default)]
    struct Display {
        rows: Vec<Vec<u8>>,
        row: usize,
        col: usize,
        pending_wrap: bool,
    }

    impl Display {
        fn feed(&mut self, bytes: &[u8]) {
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                i += 1;
                match b {
                    b'\r' => (self.col, self.pending_wrap) = (0, false),
                    b'\n' => (self.row, self.col, self.pending_wrap) = (self.row + 1, 0, false),
                    0x1b => {
                        let end = i + bytes[i..].iter().position(u8::is_ascii_alphabetic).unwrap();
                        let arg = std::str::from_utf8(&bytes[i + 1..end]).unwrap();
                        let n: usize = arg.parse().unwrap_or(0);
                        self.pending_wrap = false;
                        match bytes[end] {
                            b'A' => self.row -= n,
                            b'B' => self.row += n,
                            b'C' => self.col = (self.col + n).min(COLS - 1),
                            b'D' => self.col = self.col.saturating_sub(n),
                            b'K' if n == 2 => self.line().clear(),
                            b'K' => {
                                let col = self.col;
                                self.line().truncate(col);
                            }
                            other => panic!("escape {}", other as char),
                        }
                        i = end + 1;
                    }
                    _ => {
                        if self.pending_wrap {
                            (self.row, self.col, self.pending_wrap) = (self.row + 1, 0, false);
                        }
                        let col = self.col;
                        let line = self.line();
                        if line.len() <= col {
                            line.resize(col + 1, b' ');
                        }
                        line[col] = b;
                        if col + 1 == COLS {
                            self.pending_wrap = true;
                        } else {
                            self.col += 1;
                        }
                    }
                }
            }
        }

        fn line(&mut self) -> &mut Vec<u8> {
            if self.rows.len() <= self.row {
                self.rows.resize(self.row + 1, Vec::new());
            }
            &mut self.rows[self.row]
        }

        fn text(&self) -> String {
            let rows: Vec<String> = self
                .rows
                .iter()
                .map(|r| String::from_utf8_lossy(r).trim_end().to_owned())
                .collect();
            rows.join("\n")
        }
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn take(&self) -> Vec<u8> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    /// indicatif's own way: lines padded to the last column.
    #[derive(Debug)]
    struct Padded(Mutex<Vec<u8>>, Shared);

    impl TermLike for Padded {
        fn width(&self) -> u16 {
            COLS as u16
        }
        fn move_cursor_up(&self, n: usize) -> io::Result<()> {
            self.write_str(&format!("\x1b[{n}A"))
        }
        fn move_cursor_down(&self, n: usize) -> io::Result<()> {
            self.write_str(&format!("\x1b[{n}B"))
        }
        fn move_cursor_right(&self, n: usize) -> io::Result<()> {
            self.write_str(&format!("\x1b[{n}C"))
        }
        fn move_cursor_left(&self, n: usize) -> io::Result<()> {
            self.write_str(&format!("\x1b[{n}D"))
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            self.write_str(&format!("{s}\n"))
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().extend_from_slice(s.as_bytes());
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            self.write_str("\r\x1b[2K")
        }
        fn flush(&self) -> io::Result<()> {
            let bytes = std::mem::take(&mut *self.0.lock().unwrap());
            self.1.clone().write_all(&bytes)
        }
    }

    impl std::fmt::Debug for Shared {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Shared")
        }
    }

    /// Two live lines, an echoed `^C` between two redraws, a printed line, the
    /// live lines cleared: what stays on the screen.
    fn after_ctrl_c(term: Box<dyn TermLike>, out: &Shared) -> String {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::term_like(term));
        let style = ProgressStyle::with_template("{msg}").unwrap();
        let bars: Vec<ProgressBar> = ["live-a", "live-b"]
            .into_iter()
            .map(|name| {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_message(name);
                bar
            })
            .collect();
        multi.println("before").unwrap();
        let mut display = Display::default();
        display.feed(&out.take());
        // The tty echoes the Ctrl-C where the cursor is.
        display.feed(b"^C");
        bars[0].set_message("live-a 2");
        multi.println("after").unwrap();
        for bar in &bars {
            bar.finish_and_clear();
        }
        display.feed(&out.take());
        display.text()
    }

    #[test]
    fn no_live_line_is_left_behind_by_an_echoed_ctrl_c() {
        let out = Shared::default();
        let screen = Screen::new(out.clone(), || Some((24, COLS as u16)));
        let text = after_ctrl_c(Box::new(screen), &out);
        assert!(!text.contains("live"), "{text}");
        assert!(text.contains("before\nafter"), "{text}");
    }

    #[test]
    fn padded_lines_leave_a_live_line_behind_after_an_echoed_ctrl_c() {
        let out = Shared::default();
        let padded = Padded(Mutex::default(), out.clone());
        let text = after_ctrl_c(Box::new(padded), &out);
        assert!(text.contains("live-a"), "{text}");
    }

    #[test]
    fn lines_of_the_full_width_keep_their_last_character() {
        let out = Shared::default();
        let screen = Screen::new(out.clone(), || Some((24, COLS as u16)));
        let multi =
            MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(screen)));
        let full = "x".repeat(COLS);
        multi.println(&full).unwrap();
        multi.println("next").unwrap();
        let mut display = Display::default();
        display.feed(&out.take());
        assert_eq!(display.text(), format!("{full}\nnext"));
    }
}
