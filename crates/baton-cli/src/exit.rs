//! Exit codes, in one place: the only part of baton that knows them.

use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything ran and passed.
    Success,
    /// A beat failed.
    BeatFailed,
    /// Bad usage or an invalid pipeline file.
    Usage,
    /// An SLA gate (`--fail-on`) failed.
    SlaGate,
    /// The history store or another internal part failed.
    Internal,
    /// Interrupted: Ctrl-C (130), or 128 + the signal that stopped the run
    /// (SIGTERM 143, SIGHUP 129), as a shell reports a process a signal ended.
    Interrupted { signal: Option<i32> },
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::BeatFailed => 1,
            Self::Usage => 2,
            Self::SlaGate => 3,
            Self::Internal => 4,
            Self::Interrupted { signal } => signal
                .and_then(|s| u8::try_from(s).ok())
                .filter(|s| (1..=64).contains(s))
                .map_or(130, |s| 128 + s),
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// A problem with what the user asked for (a run that does not exist, a bad value):
/// reported like any error, but with exit code 2 instead of 4.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// `bail!` for usage errors: returns early with a [`UsageError`].
#[macro_export]
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::exit::UsageError(format!($($arg)*)).into())
    };
}
