//! While live lines are drawn, the terminal does not echo `^C` for a Ctrl-C: the
//! echo would land after the last live line (indicatif leaves the cursor in its
//! last column), wrap, and shift every later redraw one line down, leaving a stale
//! live line in the scrollback. Clearing the terminal's ECHOCTL flag does that
//! (what `stty -echoctl` does); the signal itself still comes. The setting is
//! restored when the guard is dropped, as the live lines go.

use std::os::fd::AsRawFd;

/// Holds the terminal's settings to restore; does nothing off a terminal.
pub struct NoControlEcho {
    fd: i32,
    saved: Option<libc::termios>,
}

impl NoControlEcho {
    /// Turns off the echo of control characters on the terminal behind stdout.
    pub fn on_stdout() -> Self {
        let fd = std::io::stdout().as_raw_fd();
        // SAFETY: a zeroed termios is a valid buffer for tcgetattr to fill.
        let mut settings: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd is open for the life of the process; settings is a valid pointer.
        if unsafe { libc::tcgetattr(fd, &mut settings) } != 0
            || settings.c_lflag & libc::ECHOCTL == 0
        {
            return Self { fd, saved: None };
        }
        let saved = settings;
        settings.c_lflag &= !libc::ECHOCTL;
        // SAFETY: as above; TCSANOW applies the change at once.
        let changed = unsafe { libc::tcsetattr(fd, libc::TCSANOW, &settings) } == 0;
        Self {
            fd,
            saved: changed.then_some(saved),
        }
    }
}

impl Drop for NoControlEcho {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read from the same open fd.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, saved) };
        }
    }
}
