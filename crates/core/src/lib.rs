//! `exhibits-core`: the vocabulary every other crate of `exhibits` shares.
//!
//! - [`calendar`]: the US equity trading calendar (weekends and NYSE holidays), used by the
//!   generator to lay out trading days and by `run` to decide whether the inputs for an as-of
//!   date can be expected yet;
//! - [`pipeline`]: the pipeline file (`pipelines/*.toml`): sources, parameters, periods and the
//!   publish target, with every relative path resolved against the file's own folder;
//! - [`exit`]: the documented exit codes of SPEC §6, so that every crate classifies its errors
//!   the same way for schedulers (retry on 3, wait on 99, page a human on 1 and 2).
//!
//! Nothing here does I/O beyond reading the pipeline file.

pub mod calendar;
pub mod exit;
pub mod pipeline;

pub use exit::{Classify, ExitStatus};

/// The sha256 of `bytes` in lowercase hex: how raw files, published files and manifests are
/// fingerprinted.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
