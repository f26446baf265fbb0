//! A failed command: the exit status a scheduler sees, the error, and what was done before it.

use exhibits_core::{Classify, ExitStatus};

pub(crate) struct Failure {
    pub(crate) status: ExitStatus,
    pub(crate) error: anyhow::Error,
    /// Fields for the JSON summary (what was done before the failure).
    pub(crate) summary: serde_json::Value,
}

impl Failure {
    pub(crate) fn new(status: ExitStatus, error: impl Into<anyhow::Error>) -> Failure {
        Failure { status, error: error.into(), summary: serde_json::json!({}) }
    }

    /// Attaches what was done before the failure to the summary.
    pub(crate) fn with_summary(mut self, summary: serde_json::Value) -> Failure {
        self.summary = summary;
        self
    }
}

/// Every library error knows its exit status.
impl<E: Classify + std::error::Error + Send + Sync + 'static> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(e.exit_status(), e)
    }
}

/// Maps an error to a failure that carries `summary` (what the command did before it).
pub(crate) fn with_summary<E: Into<Failure>>(summary: &serde_json::Value) -> impl Fn(E) -> Failure + '_ {
    move |e| e.into().with_summary(summary.clone())
}
