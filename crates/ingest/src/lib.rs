//! `exhibits-ingest`: vendor files → validated Arrow → the lake's typed Parquet tables.
//!
//! Nothing from a vendor is trusted. Every file is read row by row; a row that does not parse
//! or fails validation goes to the quarantine with its file, line, column, raw text and reason;
//! for every file `accepted + rejected = rows read`, recorded in the ledger.
//!
//! The lake (a local folder, written through `object_store`):
//!
//! ```text
//! lake/
//!   index_levels/source=<name>/data.parquet   date, index_id, price_level, total_return_level, source
//!   yields/source=<name>/data.parquet         date, series_id, yield_pct, source
//!   constituents/source=<name>/data.parquet   date, security_id, ticker, sector, index_code,
//!                                             shares, close, dividend, source
//!   holdings/source=<name>/data.parquet       as_of, index_code, ticker, name, sector,
//!                                             asset_class, market_value, weight_pct, quantity,
//!                                             price, source
//!   quarantine/source=<name>/data.parquet     source, file, line, column, raw, reason
//!   ledger/source=<name>.json                 rows read / accepted / rejected, sha256 of the raw file
//!   raw/<sha256>.csv                          the raw file as received
//! ```
//!
//! A source's files are replaced whole on every ingest, so ingesting the same file twice changes
//! nothing and a corrected file replaces the rows of the earlier one.

mod constituents;
mod formats;
mod ftse;
mod lake;
mod securities;

pub use arrow::datatypes::SchemaRef;
pub use constituents::{
    CONSTITUENTS_HEADER, constituents_schema, constituents_to_parquet, csv_to_parquet, treasury_schema,
};
pub use formats::{index_levels_schema, quarantine_schema, yields_schema};
pub use lake::{Lake, LakeLock};
pub use securities::{holdings_schema, lake_constituents_schema};

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use exhibits_core::pipeline::Source;
use exhibits_core::{Classify, ExitStatus};

/// An error that stops the ingest of one file (its bad rows never do: they are quarantined).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: cannot read the file: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {what}")]
    BadFile { file: PathBuf, what: String },
    #[error("lake at {root}: {source}")]
    Lake {
        root: PathBuf,
        #[source]
        source: object_store::Error,
    },
    #[error("lake at {root}: cannot encode Parquet: {message}")]
    Encode { root: PathBuf, message: String },
    #[error("lake at {root} is in use by another exhibits run: {holder}; retry when it has finished")]
    Locked { root: PathBuf, holder: String },
}

impl Classify for IngestError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            IngestError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ExitStatus::NotReady,
            IngestError::Lake { .. } | IngestError::Locked { .. } => ExitStatus::Transient,
            _ => ExitStatus::DataError,
        }
    }
}

/// One row that was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// The raw text of the row.
    pub raw: String,
    pub reason: String,
}

/// What ingesting one source did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceReport {
    pub source: String,
    pub file: PathBuf,
    pub table: &'static str,
    pub sha256: String,
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// The latest date among accepted rows.
    pub max_date: Option<NaiveDate>,
}

/// A source's file read and validated, not yet in the lake.
pub struct ReadSource {
    pub report: SourceReport,
    raw: Vec<u8>,
    batch: arrow::array::RecordBatch,
    rejected: Vec<Rejected>,
}

impl ReadSource {
    /// The rows that were not accepted.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// The accepted rows, in the lake table's canonical schema.
    pub fn batch(&self) -> &arrow::array::RecordBatch {
        &self.batch
    }
}

/// Reads and validates one source's file; nothing is written.
pub fn read_source(source: &Source) -> Result<ReadSource, IngestError> {
    let raw = std::fs::read(&source.path).map_err(|e| IngestError::Read { file: source.path.clone(), source: e })?;
    let parsed = formats::parse(source, &raw)?;
    let report = SourceReport {
        source: source.name.clone(),
        file: source.path.clone(),
        table: source.format.table(),
        sha256: exhibits_core::sha256_hex(&raw),
        rows_read: parsed.rows_read,
        accepted: parsed.batch.num_rows() as u64,
        rejected: parsed.rejected.len() as u64,
        max_date: parsed.max_date,
    };
    debug_assert_eq!(report.accepted + report.rejected, report.rows_read);
    Ok(ReadSource { report, raw, batch: parsed.batch, rejected: parsed.rejected })
}

impl Lake {
    /// Archives the raw file and replaces the source's rows, quarantine and ledger entry.
    pub async fn store(&self, read: &ReadSource) -> Result<(), IngestError> {
        let r = &read.report;
        self.archive_raw(&r.sha256, &read.raw).await?;
        self.write_table(r.table, &r.source, &read.batch).await?;
        self.write_quarantine(&r.source, &r.file, &read.rejected).await?;
        self.write_ledger(r).await
    }
}

/// The display name of a file in errors and the quarantine.
pub(crate) fn file_label(path: &Path) -> String {
    path.display().to_string()
}
