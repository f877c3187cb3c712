//! Ctrl-C handling: SIGINT, SIGTERM and SIGHUP (the terminal or the ssh session
//! closed) bump one static counter that every [`CancelToken`] returned here
//! follows. The first signal asks for a graceful stop (the scheduler forwards
//! SIGINT to every running process group and starts no new beat), the second kills
//! the running beats. A signal that baton was started with ignored (`nohup`, a
//! background job of a script) stays ignored.
//!
//! The handler only does atomic operations, plus, for SIGHUP, pointing stdout and
//! stderr at `/dev/null` (`open` and `dup2` are async-signal-safe): the terminal is
//! gone, and a write to it would fail with EIO, which `println!` turns into a panic
//! before the run is recorded. It never exits the process: if baton itself is
//! stuck, SIGQUIT (Ctrl-\) still ends it.

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use crate::cancel::CancelToken;

static INTERRUPTS: AtomicU8 = AtomicU8::new(0);
/// The first of those signals that came (0: none yet).
static FIRST_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_interrupt(signal: libc::c_int) {
    let _ = FIRST_SIGNAL.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
    if signal == libc::SIGHUP {
        detach_from_terminal();
    }
    // Saturating at a small value keeps the counter from wrapping back to 0.
    if INTERRUPTS.load(Ordering::SeqCst) < 100 {
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    }
}

/// Points stdout and stderr at `/dev/null` if they are a terminal.
fn detach_from_terminal() {
    // SAFETY: isatty, open, dup2 and close are async-signal-safe; the path is a
    // NUL-terminated literal.
    unsafe {
        if libc::isatty(1) == 0 && libc::isatty(2) == 0 {
            return;
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if null < 0 {
            return;
        }
        for fd in [1, 2] {
            if libc::isatty(fd) == 1 {
                libc::dup2(null, fd);
            }
        }
        libc::close(null);
    }
}

/// The signal that first asked the run to stop (`SIGINT`, `SIGTERM` or `SIGHUP`),
/// if one came.
pub fn first_interrupt_signal() -> Option<i32> {
    Some(FIRST_SIGNAL.load(Ordering::SeqCst)).filter(|&s| s != 0)
}

/// Installs the SIGINT, SIGTERM and SIGHUP handler and returns a token that follows it.
/// Calling it again re-installs the same handler and shares the same counter.
///
/// sigaction only fails for an invalid signal number, so a failure is ignored here:
/// the default action (terminate) then stays in force. Use
/// [`try_install_interrupt_handler`] to see it.
pub fn install_interrupt_handler() -> CancelToken {
    try_install_interrupt_handler().unwrap_or_else(|_| CancelToken::following(&INTERRUPTS))
}

/// [`install_interrupt_handler`], telling when sigaction refused.
pub fn try_install_interrupt_handler() -> io::Result<CancelToken> {
    install(libc::SIGINT)?;
    install(libc::SIGTERM)?;
    install(libc::SIGHUP)?;
    Ok(CancelToken::following(&INTERRUPTS))
}

fn install(signal: libc::c_int) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is a valid value (empty mask, no flags); we then
    // set a handler that is async-signal-safe (see the module), and pass valid
    // pointers to sigemptyset and sigaction.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
            && signal != libc::SIGTERM
        {
            return Ok(());
        }
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::CancelLevel;

    #[test]
    fn sigint_bumps_the_token() {
        let token = try_install_interrupt_handler().expect("sigaction accepts SIGINT");
        // SAFETY: raise has no memory-safety preconditions; the handler is installed.
        unsafe { libc::raise(libc::SIGINT) };
        assert!(token.level() >= CancelLevel::Graceful);
        // SAFETY: as above. (Not SIGHUP: it would detach a terminal running the tests.)
        unsafe { libc::raise(libc::SIGTERM) };
        assert_eq!(token.level(), CancelLevel::Kill);
        assert_eq!(
            first_interrupt_signal(),
            Some(libc::SIGINT),
            "the first one counts"
        );
    }
}
