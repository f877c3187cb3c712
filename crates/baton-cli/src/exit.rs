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
    /// Some of the input was rejected (`baton import`: lines skipped), the rest
    /// done.
    InputRejected,
    /// `baton exec`: the status of the command it ran, passed on as it is (a
    /// signal death as 128 + the signal, as a shell reports it).
    Command(u8),
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::BeatFailed | Self::InputRejected => 1,
            Self::Usage => 2,
            Self::Command(code) => code,
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

/// An error the CLI expects, with the exit code it means (nextest's
/// `ExpectedError` is the model). `main` asks [`exit_for_error`]; an error that is
/// none of these is an internal one (exit 4).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpectedError {
    /// A problem with what the user asked for (a run that does not exist, a bad
    /// value): exit 2.
    #[error("{0}")]
    Usage(String),
}

impl ExpectedError {
    pub(crate) fn exit(&self) -> Exit {
        match self {
            Self::Usage(_) => Exit::Usage,
        }
    }
}

/// The exit code of an error a verb returned: the first error in its chain that
/// says what it means decides; anything else is internal.
pub(crate) fn exit_for_error(err: &anyhow::Error) -> Exit {
    for cause in err.chain() {
        if let Some(expected) = cause.downcast_ref::<ExpectedError>() {
            return expected.exit();
        }
        if let Some(store) = cause.downcast_ref::<baton_store::StoreError>() {
            return exit_for_store_error(store);
        }
    }
    Exit::Internal
}

/// The one place where history-store errors become exit codes. Exhaustive on
/// purpose: a new kind of store error must decide here what it means to the user.
fn exit_for_store_error(err: &baton_store::StoreError) -> Exit {
    // The store knows which of its errors are the user's: a run the history does
    // not have, an id prefix that names several, a shape that is not there.
    if err.is_usage() {
        Exit::Usage
    } else {
        Exit::Internal
    }
}

/// `bail!` for usage errors: returns early with an [`ExpectedError::Usage`].
#[macro_export]
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err($crate::exit::ExpectedError::Usage(format!($($arg)*)).into())
    };
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn usage_errors_exit_2_even_under_context() {
        let err = anyhow::Error::from(ExpectedError::Usage("bad".into())).context("while x");
        assert_eq!(exit_for_error(&err), Exit::Usage);
    }

    #[test]
    fn store_errors_map_by_kind() {
        let unknown: anyhow::Result<()> =
            Err(baton_store::StoreError::UnknownRun("0".into()).into());
        let unknown = unknown.context("failed to load the run").unwrap_err();
        assert_eq!(exit_for_error(&unknown), Exit::Usage);
        let too_new =
            anyhow::Error::from(baton_store::StoreError::SchemaTooNew { found: 9, known: 1 });
        assert_eq!(exit_for_error(&too_new), Exit::Internal);
    }

    #[test]
    fn anything_else_is_internal() {
        assert_eq!(exit_for_error(&anyhow::anyhow!("boom")), Exit::Internal);
    }
}
