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
//!   index_levels/<part>/year=YYYY/data.parquet     date, index_id, price_level,
//!                                                  total_return_level, source
//!   yields/<part>/year=YYYY/data.parquet           date, series_id, yield_pct, source
//!   constituents/<part>/year=YYYY/data.parquet     date, security_id, ticker, sector,
//!                                                  index_code, shares, close, dividend, source
//!   holdings/<part>/as_of=YYYY-MM-DD/data.parquet  as_of, index_code, ticker, name, sector,
//!                                                  asset_class, market_value, weight_pct,
//!                                                  quantity, price, source
//!   quarantine/<part>/data.parquet     source, file, line, column, raw, reason
//!   ledger/<part>.json                 rows read / accepted / rejected, sha256, encoding, dates,
//!                                      the as-of cut, and the restatements of the file
//!   raw/<sha256>.csv                   the raw file as received
//! ```
//!
//! `<part>` is `source=<name>/file=<file name>`: one part per file a source has delivered (its
//! `path` may be a glob). Ingesting the same file twice changes nothing; a file that arrives
//! again with other content (a vendor correction) replaces that file's rows, and its ledger
//! entry records the restatement (old and new row counts and dates). Files that no longer
//! match keep their rows: the lake is the history of what was delivered.
//!
//! Reading streams (memory does not grow with the file): a file is copied into a [`Staging`]
//! folder inside the lake (its sha256 and encoding worked out on the way), read as UTF-8 text
//! in buffers, and its rows go in batches to Parquet per partition and to the quarantine, in
//! that folder; [`Lake::store`] renames them into place. Duplicates: see [`Keys`].

mod constituents;
mod formats;
mod ftse;
mod input;
mod keys;
mod lake;
mod securities;
mod stage;

pub use arrow::datatypes::SchemaRef;
pub use constituents::{
    CONSTITUENTS_HEADER, constituents_schema, constituents_to_parquet, csv_to_parquet, treasury_schema,
};
pub use formats::{index_levels_schema, quarantine_schema, yields_schema};
pub use keys::Keys;
pub use lake::{Lake, LakeLock};
pub use securities::{holdings_schema, lake_constituents_schema};
pub use stage::Staging;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use exhibits_core::pipeline::{Source, SourceFormat};
use exhibits_core::{Classify, ExitStatus};
use stage::Out;

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

/// What reading one file of a source gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceReport {
    pub source: String,
    pub file: PathBuf,
    /// The format the file was read as (told from the content for `format = "auto"`).
    pub format: String,
    pub table: String,
    pub sha256: String,
    /// The character encoding the file was read in (`UTF-8`, `windows-1252`, …).
    pub encoding: String,
    /// Rows dated after this day (the run's as-of date) were quarantined.
    pub until: Option<NaiveDate>,
    pub rows_read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// The earliest and latest dates among accepted rows.
    pub min_date: Option<NaiveDate>,
    pub max_date: Option<NaiveDate>,
}

/// A file's entry in the lake's ledger (`ledger/source=<name>/file=<file name>.json`): what its
/// last ingest read, and every earlier version it replaced.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LedgerEntry {
    #[serde(flatten)]
    pub report: SourceReport,
    /// Oldest first: each time the file arrived again with other content (a vendor correction).
    #[serde(default)]
    pub restatements: Vec<Restatement>,
}

/// A corrected file replacing the rows of its earlier version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Restatement {
    pub previous_sha256: String,
    pub sha256: String,
    /// Rows of the earlier version (accepted), replaced by the new version's.
    pub old_rows: u64,
    pub new_rows: u64,
    pub old_dates: (Option<NaiveDate>, Option<NaiveDate>),
    pub new_dates: (Option<NaiveDate>, Option<NaiveDate>),
}

/// What storing one file did to the lake.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    /// The lake already held this file's content with the same as-of cut: nothing was written.
    Unchanged,
    /// The file's rows are new in the lake.
    New,
    /// The file had been ingested with other content: its rows were replaced.
    Restated(Restatement),
    /// The same content, cut at another as-of date.
    Recut,
}

/// The files `source.path` names: that file, or every file its glob pattern (`*`, `?`, `[…]`)
/// matches, in name order. A pattern that matches nothing is an input that has not arrived.
pub fn source_files(source: &Source) -> Result<Vec<PathBuf>, IngestError> {
    let pattern = source.path.to_string_lossy();
    if !pattern.contains(['*', '?', '[']) {
        return Ok(vec![source.path.clone()]);
    }
    let bad = |what: String| IngestError::BadFile { file: source.path.clone(), what };
    let files: Vec<PathBuf> = glob::glob(&pattern)
        .map_err(|e| bad(format!("not a valid file pattern: {e}")))?
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    if files.is_empty() {
        let e = std::io::Error::new(std::io::ErrorKind::NotFound, "no file matches the pattern");
        return Err(IngestError::Read { file: source.path.clone(), source: e });
    }
    let mut names = std::collections::HashMap::new();
    for f in &files {
        if let Some(other) = names.insert(f.file_name(), f) {
            return Err(bad(format!(
                "two matching files have the same name ({} and {}); the lake keeps one file per name and source",
                other.display(),
                f.display()
            )));
        }
    }
    Ok(files)
}

/// A source's file read and validated, not yet in the lake: its rows, quarantine and raw copy
/// wait in a staging folder.
pub struct ReadSource {
    pub report: SourceReport,
    raw: PathBuf,
    staged: stage::Staged,
    /// Keeps the staging folder while this file's part of it is needed.
    _staging: Staging,
}

impl ReadSource {
    /// The first row that was not accepted, if any.
    pub fn first_rejected(&self) -> Option<&Rejected> {
        self.staged.first_rejected.as_ref()
    }

    /// The rows that were not accepted, read back from the staged quarantine (for inspection).
    pub fn rejected(&self) -> Vec<Rejected> {
        use arrow::array::{Array, AsArray};
        let mut out = Vec::new();
        for batch in read_parquet(&self.staged.quarantine) {
            let text = |i: usize| batch.column(i).as_string::<i32>();
            let lines = batch.column(2).as_primitive::<arrow::datatypes::UInt64Type>();
            for r in 0..batch.num_rows() {
                out.push(Rejected {
                    line: lines.value(r),
                    column: text(3).is_valid(r).then(|| text(3).value(r).to_string()),
                    raw: text(4).value(r).to_string(),
                    reason: text(5).value(r).to_string(),
                });
            }
        }
        out
    }

    /// The accepted rows, in the lake table's canonical schema, read back from the staged
    /// partitions in partition order (for inspection).
    pub fn batch(&self) -> arrow::array::RecordBatch {
        let (_, schema) = lake_tables().into_iter().find(|(t, _)| *t == self.report.table).expect("a lake table");
        let mut files = parquet_files(&self.staged.rows);
        files.sort();
        let batches: Vec<_> = files.iter().flat_map(|f| read_parquet(f)).collect();
        arrow::compute::concat_batches(&schema, &batches).expect("staged rows have the table's schema")
    }
}

/// The lake's tables, with their canonical schemas.
pub fn lake_tables() -> [(&'static str, SchemaRef); 5] {
    [
        ("constituents", lake_constituents_schema()),
        ("holdings", holdings_schema()),
        ("index_levels", index_levels_schema()),
        ("yields", yields_schema()),
        ("quarantine", quarantine_schema()),
    ]
}

/// Every batch of a staged Parquet file (which this process wrote).
fn read_parquet(path: &Path) -> Vec<arrow::array::RecordBatch> {
    let file = std::fs::File::open(path).expect("a staged file");
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .expect("a staged Parquet file")
        .collect::<Result<_, _>>()
        .expect("a staged Parquet file")
}

/// Reads and validates one source's file into a temporary staging folder; the lake is not
/// touched and no other file is consulted for duplicates.
pub fn read_source(source: &Source) -> Result<ReadSource, IngestError> {
    read_source_in(source, &Staging::temporary()?, &mut Keys::default())
}

/// Reads and validates one source's file in buffers into `staging`: the raw copy, the accepted
/// rows by partition and the quarantine. A (date, id) that `keys` says another file delivered,
/// or an earlier line of this file, is quarantined as a duplicate; the file then joins `keys`.
pub fn read_source_in(source: &Source, staging: &Staging, keys: &mut Keys) -> Result<ReadSource, IngestError> {
    read_from(source, &source.path, staging, keys)
}

/// [`read_source_in`] reading the bytes at `from` (errors name `source.path`).
fn read_from(source: &Source, from: &Path, staging: &Staging, keys: &mut Keys) -> Result<ReadSource, IngestError> {
    let bad = |what: String| IngestError::BadFile { file: source.path.clone(), what };
    let dir = staging.file_dir()?;
    let copied = Source { path: from.to_path_buf(), ..source.clone() };
    let raw = input::copy_in(&copied, &dir.join("raw"), &bad)?;
    // `format = "auto"`: told from the content, then read as if the pipeline had named it.
    let detected;
    let source = match source.format {
        SourceFormat::Auto => {
            let format = formats::detect(&raw.head(30, &bad)?).map_err(&bad)?;
            detected = Source { format, ..source.clone() };
            if let Some(missing) = detected.missing_id() {
                return Err(bad(format!("detected format {}: {missing}", format.name())));
            }
            tracing::info!(source = %source.name, "{}: detected format {}", source.path.display(), format.name());
            &detected
        }
        _ => source,
    };
    let file = file_label(&source.path);
    let name = source.path.file_name().map_or_else(|| file.clone(), |f| f.to_string_lossy().into_owned());
    // A file not in date order is read again with every key kept (see `keys`).
    let mut every_key = false;
    let staged = loop {
        keys.begin_file(source.format.table(), every_key);
        let attempt = dir.join(if every_key { "every_key" } else { "in_order" });
        let mut out = Out::new(&attempt, &source.name, &file, keys);
        formats::parse(source, &raw, &mut out, &bad)?;
        let staged = out.finish()?;
        if !keys.revisited() {
            break staged;
        }
        tracing::info!(source = %source.name, "{}: not in date order; read again keeping every key", source.path.display());
        let _ = std::fs::remove_dir_all(&attempt);
        every_key = true;
    };
    keys.end_file(&name, staged.days, &staged.rows);
    let day = |d: i32| exhibits_core::calendar::from_epoch_days(d);
    let report = SourceReport {
        source: source.name.clone(),
        file: source.path.clone(),
        format: source.format.name().to_string(),
        table: source.format.table().to_string(),
        sha256: raw.sha256.clone(),
        encoding: raw.encoding.name().to_string(),
        until: source.until,
        rows_read: staged.rows_read,
        accepted: staged.accepted,
        rejected: staged.rejected,
        min_date: staged.days.map(|(lo, _)| day(lo)),
        max_date: staged.days.map(|(_, hi)| day(hi)),
    };
    debug_assert_eq!(report.accepted + report.rejected, report.rows_read);
    Ok(ReadSource { report, raw: raw.path, staged, _staging: staging.clone() })
}

impl Lake {
    /// Archives the raw file and replaces this file's rows, quarantine and ledger entry in the
    /// source's part of the lake (the source's other files keep theirs) by moving the staged
    /// files into place. The same content cut at the same as-of date changes nothing; other
    /// content is a restatement, recorded.
    pub async fn store(&self, read: &ReadSource) -> Result<Stored, IngestError> {
        let r = &read.report;
        let previous = self.ledger_entry(r).await?;
        let stored = match &previous {
            None => Stored::New,
            Some(p) if p.report == *r => return Ok(Stored::Unchanged),
            Some(p) if p.report.sha256 == r.sha256 => Stored::Recut,
            Some(p) => Stored::Restated(Restatement {
                previous_sha256: p.report.sha256.clone(),
                sha256: r.sha256.clone(),
                old_rows: p.report.accepted,
                new_rows: r.accepted,
                old_dates: (p.report.min_date, p.report.max_date),
                new_dates: (r.min_date, r.max_date),
            }),
        };
        self.archive_raw(&r.sha256, &read.raw)?;
        self.remove_single_file_layout(r).await?;
        self.move_table(r, &read.staged.rows).await?;
        self.move_quarantine(r, &read.staged.quarantine)?;
        let mut restatements = previous.map(|p| p.restatements).unwrap_or_default();
        if let Stored::Restated(restated) = &stored {
            restatements.push(restated.clone());
        }
        self.write_ledger(&LedgerEntry { report: r.clone(), restatements }).await?;
        Ok(stored)
    }
}

/// The Parquet files under `dir`, at any depth (a file's partitions).
pub(crate) fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().filter_map(Result::ok) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                found.push(p);
            }
        }
    }
    found
}

/// The display name of a file in errors and the quarantine.
pub(crate) fn file_label(path: &Path) -> String {
    path.display().to_string()
}

/// A file parsed from bytes, for the readers' unit tests.
#[cfg(test)]
pub(crate) struct Parsed {
    pub(crate) batch: arrow::array::RecordBatch,
    pub(crate) rejected: Vec<Rejected>,
    pub(crate) rows_read: u64,
    pub(crate) max_date: Option<NaiveDate>,
}

/// Reads `bytes` as a file of `source` (named `source.path` in errors).
#[cfg(test)]
pub(crate) fn parse(source: &Source, bytes: &[u8]) -> Result<Parsed, IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let from = dir.path().join("input");
    std::fs::write(&from, bytes).unwrap();
    let read = read_from(source, &from, &Staging::temporary()?, &mut Keys::default())?;
    Ok(Parsed {
        batch: read.batch(),
        rejected: read.rejected(),
        rows_read: read.report.rows_read,
        max_date: read.report.max_date,
    })
}
