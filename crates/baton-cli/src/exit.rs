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
    /// Interrupted by Ctrl-C.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::BeatFailed => 1,
            Self::Usage => 2,
            Self::SlaGate => 3,
            Self::Internal => 4,
            Self::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}
