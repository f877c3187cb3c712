//! While live lines are drawn, the terminal does not echo `^C` for a Ctrl-C: the
//! echo would land after the last live line (indicatif leaves the cursor in its
//! last column), wrap, and shift every later redraw one line down, leaving a stale
//! live line in the scrollback. Clearing the terminal's ECHOCTL flag does that
//! (what `stty -echoctl` does); the signal itself still comes. The flag is set
//! back when the guard is dropped, as the live lines go. A baton in the background
//! (`baton run &`) leaves the terminal alone: changing it from there would stop
//! baton with SIGTTOU.

use std::os::fd::AsRawFd;

/// Sets ECHOCTL back when dropped, if it cleared it; does nothing off a terminal.
pub(super) struct NoControlEcho {
    fd: i32,
    cleared: bool,
}

impl NoControlEcho {
    /// Turns off the echo of control characters on the terminal behind stdout.
    pub(super) fn on_stdout() -> Self {
        let fd = std::io::stdout().as_raw_fd();
        // SAFETY: tcgetpgrp and getpgrp only read; fd is open for the process's life.
        let foreground = unsafe { libc::tcgetpgrp(fd) == libc::getpgrp() };
        let cleared = foreground && set_echoctl(fd, false);
        Self { fd, cleared }
    }
}

impl Drop for NoControlEcho {
    fn drop(&mut self) {
        if self.cleared {
            set_echoctl(self.fd, true);
        }
    }
}

/// Sets or clears ECHOCTL, leaving every other setting as it is now; true when it
/// changed the flag.
fn set_echoctl(fd: i32, on: bool) -> bool {
    // SAFETY: a zeroed termios is a valid buffer for tcgetattr to fill.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open; settings is a valid pointer.
    if unsafe { libc::tcgetattr(fd, &mut settings) } != 0
        || (settings.c_lflag & libc::ECHOCTL != 0) == on
    {
        return false;
    }
    if on {
        settings.c_lflag |= libc::ECHOCTL;
    } else {
        settings.c_lflag &= !libc::ECHOCTL;
    }
    // SIGTTOU blocked: a baton sent to the background meanwhile (Ctrl-Z, `bg`) may
    // still set the flag back instead of being stopped.
    // SAFETY: zeroed sigset_t values are valid buffers for sigemptyset and
    // pthread_sigmask; the old mask is restored on this thread right after.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        let changed = libc::tcsetattr(fd, libc::TCSANOW, &settings) == 0;
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        changed
    }
}
