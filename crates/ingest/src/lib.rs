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
use exhibits_core::pipeline::{Source, SourceFormat};
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

/// A source's file read and validated, not yet in the lake.
pub struct ReadSource {
    pub report: SourceReport,
    raw: Vec<u8>,
    batch: arrow::array::RecordBatch,
    /// The line of each accepted row.
    lines: Vec<u64>,
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
    let bad = |what: String| IngestError::BadFile { file: source.path.clone(), what };
    let (text, encoding) = formats::decode(source, &raw, &bad)?;
    // `format = "auto"`: told from the content, then read as if the pipeline had named it.
    let detected;
    let source = match source.format {
        SourceFormat::Auto => {
            let format = formats::detect(&text).map_err(&bad)?;
            detected = Source { format, ..source.clone() };
            if let Some(missing) = detected.missing_id() {
                return Err(bad(format!("detected format {}: {missing}", format.name())));
            }
            tracing::info!(source = %source.name, "{}: detected format {}", source.path.display(), format.name());
            &detected
        }
        _ => source,
    };
    let parsed = formats::parse_text(source, &text)?;
    let report = SourceReport {
        source: source.name.clone(),
        file: source.path.clone(),
        format: source.format.name().to_string(),
        table: source.format.table().to_string(),
        sha256: exhibits_core::sha256_hex(&raw),
        encoding: encoding.to_string(),
        until: source.until,
        rows_read: parsed.rows_read,
        accepted: parsed.batch.num_rows() as u64,
        rejected: parsed.rejected.len() as u64,
        min_date: parsed.min_date,
        max_date: parsed.max_date,
    };
    debug_assert_eq!(report.accepted + report.rejected, report.rows_read);
    debug_assert_eq!(parsed.lines.len(), parsed.batch.num_rows(), "one line per accepted row");
    Ok(ReadSource { report, raw, batch: parsed.batch, lines: parsed.lines, rejected: parsed.rejected })
}

impl Lake {
    /// Archives the raw file and replaces this file's rows, quarantine and ledger entry in the
    /// source's part of the lake (the source's other files keep theirs). The same content cut
    /// at the same as-of date changes nothing; other content is a restatement, recorded.
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
        self.archive_raw(&r.sha256, &read.raw).await?;
        self.remove_single_file_layout(r).await?;
        self.write_table(r, &read.batch).await?;
        self.write_quarantine(r, &read.rejected).await?;
        let mut restatements = previous.map(|p| p.restatements).unwrap_or_default();
        if let Stored::Restated(restated) = &stored {
            restatements.push(restated.clone());
        }
        self.write_ledger(&LedgerEntry { report: r.clone(), restatements }).await?;
        Ok(stored)
    }
}

/// A row's identity across the files of a source: its date and its index, series or security.
type RowKey = (i32, String);

/// The keys of `batch`'s rows, for the tables whose rows have one (holdings snapshots do not).
fn row_keys(batch: &arrow::array::RecordBatch, table: &str) -> Option<Vec<RowKey>> {
    use arrow::array::AsArray;
    let id = id_column(table);
    let dates = batch.column_by_name("date")?.as_primitive::<arrow::datatypes::Date32Type>();
    let ids = batch.column_by_name(id)?.as_string::<i32>();
    Some((0..batch.num_rows()).map(|i| (dates.value(i), ids.value(i).to_string())).collect())
}

/// The column that names what a row of `table` is about (with its date, the row's key); ""
/// for holdings snapshots, which have no such key.
fn id_column(table: &str) -> &'static str {
    match table {
        "index_levels" => "index_id",
        "yields" => "series_id",
        "constituents" => "security_id",
        _ => "",
    }
}

/// The keys the lake under `lake_root` holds in `table` for `source`'s files other than
/// `except` (file names), with the file each came from. Nothing when the lake does not exist yet.
pub fn keys_in_lake(
    lake_root: &Path,
    source: &str,
    table: &str,
    except: &[String],
) -> Result<std::collections::HashMap<RowKey, String>, IngestError> {
    let dir = lake_root.join(table).join(format!("source={source}"));
    let mut held = std::collections::HashMap::new();
    if id_column(table).is_empty() {
        return Ok(held);
    }
    let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(held) };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(file) = name.strip_prefix("file=") else { continue };
        if except.iter().any(|e| e == file) {
            continue;
        }
        for path in parquet_files(&entry.path()) {
            let read_err = |source| IngestError::Read { file: path.clone(), source };
            let f = std::fs::File::open(&path).map_err(read_err)?;
            let encode =
                |e: parquet::errors::ParquetError| IngestError::Encode { root: path.clone(), message: e.to_string() };
            let builder = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).map_err(encode)?;
            // Only the key columns (date and id) are read.
            let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), ["date", id_column(table)]);
            let reader = builder.with_projection(mask).build().map_err(encode)?;
            for batch in reader {
                let batch = batch.map_err(|e| IngestError::Encode { root: path.clone(), message: e.to_string() })?;
                for key in row_keys(&batch, table).unwrap_or_default() {
                    held.entry(key).or_insert_with(|| file.to_string());
                }
            }
        }
    }
    Ok(held)
}

/// The Parquet files under `dir`, at any depth (a file's partitions).
fn parquet_files(dir: &Path) -> Vec<PathBuf> {
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

/// Quarantines the rows of a source's files that an earlier file already holds: `held` (the
/// source's other files in the lake), then each of `reads` in order (a source's files in name
/// order) — the first delivery of a (date, id) keeps it. Each file's counts are updated, so
/// accepted + rejected = read still holds.
pub fn reject_duplicates_across_files(reads: &mut [ReadSource], mut held: std::collections::HashMap<RowKey, String>) {
    for read in reads.iter_mut() {
        let Some(keys) = row_keys(&read.batch, &read.report.table) else { return };
        let file = read.report.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let mut keep = Vec::with_capacity(keys.len());
        let mut kept_days: Option<(i32, i32)> = None;
        // Where each line starts in the raw file: worked out once, at the file's first duplicate.
        let mut line_starts: Option<Vec<usize>> = None;
        for (i, key) in keys.into_iter().enumerate() {
            match held.get(&key) {
                Some(other) => {
                    let starts = line_starts.get_or_insert_with(|| {
                        std::iter::once(0).chain(newline_offsets(&read.raw).map(|at| at + 1)).collect()
                    });
                    let date = exhibits_core::calendar::from_epoch_days(key.0);
                    read.rejected.push(Rejected {
                        line: read.lines[i],
                        column: Some("date".into()),
                        raw: line_text(&read.raw, starts, read.lines[i]),
                        reason: format!("duplicate of a row of {other} ({date} {})", key.1),
                    });
                    keep.push(false);
                }
                None => {
                    kept_days = Some(kept_days.map_or((key.0, key.0), |(lo, hi)| (lo.min(key.0), hi.max(key.0))));
                    held.insert(key, file.clone());
                    keep.push(true);
                }
            }
        }
        if keep.iter().all(|k| *k) {
            continue;
        }
        let mask = arrow::array::BooleanArray::from(keep.clone());
        read.batch = arrow::compute::filter_record_batch(&read.batch, &mask).expect("a mask of the batch's length");
        read.lines = read.lines.iter().zip(&keep).filter(|(_, k)| **k).map(|(l, _)| *l).collect();
        read.rejected.sort_by_key(|r| r.line);
        let r = &mut read.report;
        r.accepted = read.batch.num_rows() as u64;
        r.rejected = read.rejected.len() as u64;
        r.min_date = kept_days.map(|(lo, _)| exhibits_core::calendar::from_epoch_days(lo));
        r.max_date = kept_days.map(|(_, hi)| exhibits_core::calendar::from_epoch_days(hi));
    }
}

/// The offsets of the newlines of `raw`.
fn newline_offsets(raw: &[u8]) -> impl Iterator<Item = usize> + '_ {
    raw.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i)
}

/// Line `line` (1-based) of a raw file whose lines start at `starts`, as text.
fn line_text(raw: &[u8], starts: &[usize], line: u64) -> String {
    let i = line.saturating_sub(1) as usize;
    let Some(&from) = starts.get(i) else { return String::new() };
    let to = starts.get(i + 1).map_or(raw.len(), |next| next - 1);
    String::from_utf8_lossy(&raw[from..to.max(from)]).trim_end_matches('\r').to_string()
}

/// The display name of a file in errors and the quarantine.
pub(crate) fn file_label(path: &Path) -> String {
    path.display().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_line_of_the_raw_file_is_found_by_its_number() {
        let raw = b"date,x\r\n2024-01-02,1\r\n2024-01-03,2";
        let starts: Vec<usize> = std::iter::once(0).chain(super::newline_offsets(raw).map(|at| at + 1)).collect();
        let line = |n| super::line_text(raw, &starts, n);
        assert_eq!(
            (line(1), line(2), line(3), line(4)),
            ("date,x".into(), "2024-01-02,1".into(), "2024-01-03,2".into(), String::new())
        );
    }
}
