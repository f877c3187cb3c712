//! Diagnostics: what `baton validate` reports, each with a stable code, a severity,
//! a position in the file and a one-line fix, plus the conformity score.

use std::fmt;

use baton_model::escape::escape_control;
use serde::Serialize;

use crate::tree::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Minor,
    Major,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Minor => "minor",
            Self::Major => "major",
            Self::Critical => "critical",
        }
    }

    /// How much one diagnostic of this severity takes off the conformity score.
    pub fn penalty(self) -> f64 {
        match self {
            Self::Info => 0.0,
            Self::Minor => 0.02,
            Self::Major => 0.10,
            Self::Critical => 0.35,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable codes. Their text form (`B101`...) never changes meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Code {
    /// B001 the file is not a readable YAML/JSON document.
    Syntax,
    /// B002 the file cannot be read (missing, empty, binary, too large, encoding).
    Unreadable,
    /// B101 a key baton does not know.
    UnknownField,
    /// B102 a value of the wrong type.
    WrongType,
    /// B103 a required key is missing.
    MissingField,
    /// B104 a duration that does not parse.
    BadDuration,
    /// B105 a level that is not p, mf, f or ff.
    BadLevel,
    /// B106 a glob that does not compile.
    BadGlob,
    /// B107 a value outside its allowed range or set.
    BadValue,
    /// B108 a pipeline, movement or beat name with a control character.
    ControlCharInName,
    /// B201 two beats with the same name.
    DuplicateBeat,
    /// B202 `needs` names no beat.
    UnknownNeed,
    /// B203 `needs` points to a later movement.
    ForwardNeed,
    /// B204 beats that wait for each other.
    Cycle,
    /// B205 a movement with no beats.
    EmptyMovement,
    /// B206 a beat with no command.
    NoCommand,
    /// B301 `cache: true` without `inputs`.
    CacheWithoutInputs,
    /// B302 beats that may run at the same time write overlapping outputs.
    OverlappingOutputs,
    /// B303 an env value that looks like a credential.
    CredentialInEnv,
    /// B304 a beat type with no SLO.
    TypeWithoutSlo,
    /// B305 a file with a byte-order mark or other cosmetic problem.
    Style,
    /// B306 a cached beat's input glob that can match no file.
    InputsMatchNothing,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Syntax => "B001",
            Self::Unreadable => "B002",
            Self::UnknownField => "B101",
            Self::WrongType => "B102",
            Self::MissingField => "B103",
            Self::BadDuration => "B104",
            Self::BadLevel => "B105",
            Self::BadGlob => "B106",
            Self::BadValue => "B107",
            Self::ControlCharInName => "B108",
            Self::DuplicateBeat => "B201",
            Self::UnknownNeed => "B202",
            Self::ForwardNeed => "B203",
            Self::Cycle => "B204",
            Self::EmptyMovement => "B205",
            Self::NoCommand => "B206",
            Self::CacheWithoutInputs => "B301",
            Self::OverlappingOutputs => "B302",
            Self::CredentialInEnv => "B303",
            Self::TypeWithoutSlo => "B304",
            Self::Style => "B305",
            Self::InputsMatchNothing => "B306",
        }
    }

    /// Short kebab-case name shown next to the code.
    pub fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Unreadable => "unreadable-file",
            Self::UnknownField => "unknown-field",
            Self::WrongType => "wrong-type",
            Self::MissingField => "missing-field",
            Self::BadDuration => "bad-duration",
            Self::BadLevel => "bad-level",
            Self::BadGlob => "bad-glob",
            Self::BadValue => "bad-value",
            Self::ControlCharInName => "control-character-in-name",
            Self::DuplicateBeat => "duplicate-beat",
            Self::UnknownNeed => "unknown-need",
            Self::ForwardNeed => "forward-need",
            Self::Cycle => "dependency-cycle",
            Self::EmptyMovement => "empty-movement",
            Self::NoCommand => "no-command",
            Self::CacheWithoutInputs => "cache-without-inputs",
            Self::OverlappingOutputs => "overlapping-outputs",
            Self::CredentialInEnv => "credential-in-env",
            Self::TypeWithoutSlo => "type-without-slo",
            Self::Style => "style",
            Self::InputsMatchNothing => "inputs-match-nothing",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    #[serde(serialize_with = "code_str")]
    pub code: Code,
    pub severity: Severity,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
    /// One line telling how to fix it.
    pub fix: String,
}

fn code_str<S: serde::Serializer>(code: &Code, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(code.as_str())
}

impl Diagnostic {
    pub fn new(
        code: Code,
        severity: Severity,
        pos: Option<Pos>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity,
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.col),
            message: message.into(),
            fix: String::new(),
        }
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = fix.into();
        self
    }

    /// `file:line:col: message` (the position is left out when there is none),
    /// control characters escaped for a terminal.
    pub fn located(&self, file: &str) -> String {
        let message = escape_control(&self.message);
        let file = escape_control(file);
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}: {message}"),
            _ => format!("{file}: {message}"),
        }
    }
}

/// Conformity score: `max(0, 1 - sum of penalties)`, 0 when the file cannot be read.
pub fn conformity_score(diagnostics: &[Diagnostic]) -> f64 {
    if diagnostics
        .iter()
        .any(|d| matches!(d.code, Code::Syntax | Code::Unreadable))
    {
        return 0.0;
    }
    let penalty: f64 = diagnostics.iter().map(|d| d.severity.penalty()).sum();
    ((1.0 - penalty).max(0.0) * 100.0).round() / 100.0
}

/// The bands of a conformity score (docs/pipeline.md#validation).
pub fn conformity_band(score: f64) -> &'static str {
    match score {
        s if s >= 0.95 => "excellent",
        s if s >= 0.85 => "good",
        s if s >= 0.75 => "acceptable",
        s if s >= 0.65 => "needs attention",
        _ => "critical",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(severity: Severity) -> Diagnostic {
        Diagnostic::new(Code::UnknownField, severity, None, "x")
    }

    #[test]
    fn score_subtracts_penalties_and_bands_follow_the_seed() {
        assert_eq!(conformity_score(&[]), 1.0);
        assert_eq!(conformity_band(1.0), "excellent");
        let one_major = conformity_score(&[diag(Severity::Major)]);
        assert_eq!(one_major, 0.9);
        assert_eq!(conformity_band(one_major), "good");
        let critical = conformity_score(&[diag(Severity::Critical)]);
        assert_eq!(conformity_band(critical), "needs attention");
        let many = vec![diag(Severity::Critical); 5];
        assert_eq!(conformity_score(&many), 0.0);
        assert_eq!(conformity_band(0.5), "critical");
    }

    #[test]
    fn unreadable_files_score_zero() {
        let d = Diagnostic::new(Code::Syntax, Severity::Critical, None, "bad");
        assert_eq!(conformity_score(&[d]), 0.0);
    }
}
