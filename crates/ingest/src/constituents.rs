//! The canonical constituents CSV (SPEC §3, `constituents_YYYY.csv`:
//! `date,security_id,ticker,sector,index_code,shares,close,dividend`) to Parquet partitioned by
//! year, streamed in batches (memory does not grow with the file) with one file per worker
//! thread at a time. This is the `ingest` step of the benchmark workload.
//!
//! The typed fast path of the benchmark, not the nightly job's reader: a row that does not parse
//! stops its file with the file, line and reason (arrow-csv's), rather than going to the
//! quarantine, and there is no duplicate check. The nightly reader (`read_source_in`) streams
//! too but validates every row, on one core: 1.17 GB in 11.7 s against this path's 2.6 s on two.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::IngestError;

/// The header every constituents file starts with.
pub const CONSTITUENTS_HEADER: &str = "date,security_id,ticker,sector,index_code,shares,close,dividend";

/// The Arrow schema of the constituents table.
pub fn constituents_schema() -> SchemaRef {
    let utf8 = |name| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("security_id", DataType::Int64, false),
        utf8("ticker"),
        utf8("sector"),
        utf8("index_code"),
        Field::new("shares", DataType::Int64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("dividend", DataType::Float64, false),
    ]))
}

/// The Arrow schema of the workload's `treasury_10y.csv` (`date,yield_pct`).
pub fn treasury_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("date", DataType::Date32, false),
        Field::new("yield_pct", DataType::Float64, true),
    ]))
}

const BATCH_ROWS: usize = 64 * 1024;

fn bad(file: &Path, what: String) -> IngestError {
    IngestError::BadFile { file: file.to_path_buf(), what }
}

/// The year a file holds, from its name `constituents_YYYY.csv`.
fn file_year(file: &Path) -> Result<i32, IngestError> {
    file.file_name()
        .and_then(|n| n.to_str()?.strip_prefix("constituents_")?.strip_suffix(".csv")?.parse().ok())
        .ok_or_else(|| bad(file, "expected a file named constituents_YYYY.csv".into()))
}

/// Converts one file to `out/year=YYYY/part-0.parquet`; returns the rows written.
fn convert(file: &Path, out: &Path) -> Result<u64, IngestError> {
    let year = file_year(file)?;
    let (first, last) = (epoch_day(year, 1, 1), epoch_day(year + 1, 1, 1));
    let target = out.join(format!("year={year}")).join("part-0.parquet");
    csv_to_parquet(file, CONSTITUENTS_HEADER, constituents_schema(), &target, |batch, line| {
        let dates = batch.column(0).as_primitive::<Date32Type>();
        match dates.values().iter().position(|d| *d < first || *d >= last) {
            Some(i) => Err(format!("line {}, column date: a date outside {year} in the {year} file", line + i as u64)),
            None => Ok(()),
        }
    })
}

/// Streams a CSV file with exactly `header` into one zstd Parquet file at `target`, in batches;
/// `check` sees each batch with the line number of its first row. Returns the rows written.
pub fn csv_to_parquet(
    file: &Path,
    header: &str,
    schema: SchemaRef,
    target: &Path,
    check: impl Fn(&RecordBatch, u64) -> Result<(), String>,
) -> Result<u64, IngestError> {
    let read_err = |source| IngestError::Read { file: file.to_path_buf(), source };
    let mut found = String::new();
    BufReader::new(File::open(file).map_err(read_err)?).read_line(&mut found).map_err(read_err)?;
    let found = found.trim_start_matches('\u{feff}').trim_end();
    if found != header {
        return Err(bad(file, format!("line 1: expected the header {header:?}, found {found:?}")));
    }
    // arrow-csv skips the header itself, so its error messages count lines as the file does.
    let csv = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(true)
        .with_batch_size(BATCH_ROWS)
        .build_buffered(BufReader::with_capacity(1 << 20, File::open(file).map_err(read_err)?))
        .map_err(|e| bad(file, e.to_string()))?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(read_err)?;
    }
    // Closes are nearly all distinct: a dictionary for them is built, then abandoned when it
    // grows past its page limit (measured: the dictionary interner was a fifth of ingest's CPU).
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
        .set_column_dictionary_enabled(ColumnPath::from("close"), false)
        .set_column_dictionary_enabled(ColumnPath::from("shares"), false)
        .set_column_dictionary_enabled(ColumnPath::from("dividend"), false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_column_statistics_enabled(ColumnPath::from("ticker"), EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("sector"), EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("close"), EnabledStatistics::None)
        .set_column_statistics_enabled(ColumnPath::from("dividend"), EnabledStatistics::None)
        .build();
    let encode =
        |e: parquet::errors::ParquetError| IngestError::Encode { root: target.to_path_buf(), message: e.to_string() };
    let mut writer =
        ArrowWriter::try_new(File::create(target).map_err(read_err)?, schema.clone(), Some(props)).map_err(encode)?;
    let mut rows = 0u64;
    for batch in csv {
        let batch = batch.map_err(|e| bad(file, file_lines(&e.to_string(), &schema)))?;
        check(&batch, rows + 2).map_err(|what| bad(file, what))?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(encode)?;
    }
    writer.close().map_err(encode)?;
    Ok(rows)
}

/// arrow-csv's parse errors say "for column <0-based index> at line <data row, 1-based>"; say
/// the column's name and the line of the file (the header is line 1) instead.
fn file_lines(message: &str, schema: &SchemaRef) -> String {
    let number_after = |key: &str| -> Option<(usize, usize, usize)> {
        let start = message.find(key)? + key.len();
        let len = message[start..].find(|c: char| !c.is_ascii_digit())?;
        Some((start, start + len, message[start..start + len].parse().ok()?))
    };
    let mut out = message.to_string();
    if let Some((from, to, row)) = number_after(" at line ") {
        out.replace_range(from..to, &(row + 1).to_string());
    }
    if let Some((from, to, index)) = number_after(" for column ")
        && let Some(field) = schema.fields().get(index)
    {
        out.replace_range(from..to, field.name());
    }
    out
}

fn epoch_day(year: i32, month: u32, day: u32) -> i32 {
    exhibits_core::calendar::epoch_days(chrono::NaiveDate::from_ymd_opt(year, month, day).expect("a valid date"))
}

/// Converts every `constituents_YYYY.csv` of `files` into `out/year=YYYY/part-0.parquet`, with
/// up to `threads` files at a time. Returns the rows written, or the error of a file.
pub fn constituents_to_parquet(files: &[PathBuf], out: &Path, threads: usize) -> Result<u64, IngestError> {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut rows = 0;
                    while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                        rows += convert(file, out)?;
                    }
                    Ok(rows)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("an ingest worker panicked")).sum()
    })
}
