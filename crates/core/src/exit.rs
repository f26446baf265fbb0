//! Exit codes shared by every stage (SPEC §6).
//!
//! A scheduler only sees the process exit code, so every error in the workspace says which of
//! these it is through [`Classify`]; the binary maps the first error of a run to its code.

/// The documented exit codes of `exhibits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// The run completed.
    Success = 0,
    /// Bad data or a broken model: retrying will not help, a human must look.
    DataError = 1,
    /// Bad command line or configuration.
    Usage = 2,
    /// A transient infrastructure fault (storage unreachable, …): worth retrying.
    Transient = 3,
    /// The inputs for the as-of date are not there yet; nothing was done.
    NotReady = 99,
}

impl ExitStatus {
    /// The numeric process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The word used for this status in the JSON run summary.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitStatus::Success => "success",
            ExitStatus::DataError => "data_error",
            ExitStatus::Usage => "usage_error",
            ExitStatus::Transient => "transient_error",
            ExitStatus::NotReady => "not_ready",
        }
    }
}

/// Implemented by every error type of the workspace: which exit status it maps to.
pub trait Classify {
    /// The exit status a run that fails with this error ends with.
    fn exit_status(&self) -> ExitStatus;
}
