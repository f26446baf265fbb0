//! The canonical constituents CSV (SPEC §3, `constituents_YYYY.csv`:
//! `date,security_id,ticker,sector,index_code,shares,close,dividend`) to Parquet partitioned by
//! year, streamed in batches (memory does not grow with the file), each worker thread on one
//! ~32 MiB part of a file at a time. This is the `ingest` step of the benchmark workload.
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

/// A file is cut in parts of about this size, each its own unit of work: with a file per
/// unit, the last file of a run would keep one core busy while the other idles.
const PART_BYTES: u64 = 32 << 20;

/// One part of a file: the lines from byte `start` (the header's line, for the first part) to
/// byte `end`, converted to `out/year=YYYY/part-<index>.parquet`.
struct Part<'a> {
    file: &'a Path,
    index: usize,
    start: u64,
    end: u64,
}

/// Cuts `file` at line ends into parts of about [`PART_BYTES`] each.
fn parts(file: &Path) -> Result<Vec<Part<'_>>, IngestError> {
    use std::io::{Seek, SeekFrom};
    let read_err = |source| IngestError::Read { file: file.to_path_buf(), source };
    let mut f = File::open(file).map_err(read_err)?;
    let len = f.metadata().map_err(read_err)?.len();
    let n = len.div_ceil(PART_BYTES).max(1);
    let mut cuts = vec![0];
    for k in 1..n {
        // The part ends after the first newline at or past its share of the bytes.
        f.seek(SeekFrom::Start(k * len / n)).map_err(read_err)?;
        let mut skipped = Vec::new();
        let read = BufReader::with_capacity(64 << 10, &mut f).read_until(b'\n', &mut skipped).map_err(read_err)?;
        let at = k * len / n + read as u64;
        if at > *cuts.last().expect("starts with 0") && at < len {
            cuts.push(at);
        }
    }
    cuts.push(len);
    Ok(cuts.windows(2).enumerate().map(|(index, w)| Part { file, index, start: w[0], end: w[1] }).collect())
}

/// Converts one part of a `constituents_YYYY.csv` file; returns the rows written.
fn convert(part: &Part, out: &Path) -> Result<u64, IngestError> {
    let year = file_year(part.file)?;
    let (first, last) = (epoch_day(year, 1, 1), epoch_day(year + 1, 1, 1));
    let target = out.join(format!("year={year}")).join(format!("part-{}.parquet", part.index));
    let header = (part.start == 0).then_some(CONSTITUENTS_HEADER);
    range_to_parquet(part.file, part.start..part.end, header, constituents_schema(), &target, |batch| {
        let dates = batch.column(0).as_primitive::<Date32Type>();
        let outside = dates.values().iter().position(|d| *d < first || *d >= last);
        outside.map_or(Ok(()), |i| Err((i, format!("column date: a date outside {year} in the {year} file"))))
    })
}

/// Streams a CSV file with exactly `header` into one zstd Parquet file at `target`, in batches;
/// `check` sees each batch and names a row it refuses (its index in the batch, and why).
/// Returns the rows written.
pub fn csv_to_parquet(
    file: &Path,
    header: &str,
    schema: SchemaRef,
    target: &Path,
    check: impl Fn(&RecordBatch) -> Result<(), (usize, String)>,
) -> Result<u64, IngestError> {
    let len = std::fs::metadata(file).map_err(|source| IngestError::Read { file: file.to_path_buf(), source })?.len();
    range_to_parquet(file, 0..len, Some(header), schema, target, check)
}

/// [`csv_to_parquet`] for the lines in bytes `range` of `file`: the first part of a file starts
/// with `header`, the others (`None`) with rows.
fn range_to_parquet(
    file: &Path,
    range: std::ops::Range<u64>,
    header: Option<&str>,
    schema: SchemaRef,
    target: &Path,
    check: impl Fn(&RecordBatch) -> Result<(), (usize, String)>,
) -> Result<u64, IngestError> {
    use std::io::{Read, Seek, SeekFrom};
    let read_err = |source| IngestError::Read { file: file.to_path_buf(), source };
    let mut f = File::open(file).map_err(read_err)?;
    if let Some(header) = header {
        let mut found = String::new();
        BufReader::new(&mut f).read_line(&mut found).map_err(read_err)?;
        let found = found.trim_start_matches('\u{feff}').trim_end();
        if found != header {
            return Err(bad(file, format!("line 1: expected the header {header:?}, found {found:?}")));
        }
    }
    f.seek(SeekFrom::Start(range.start)).map_err(read_err)?;
    let input = BufReader::with_capacity(1 << 20, f.take(range.end - range.start));
    // Lines before the part (counted only when an error names a line).
    let lines_before = || crate::input::newlines_before(file, range.start).unwrap_or(0);
    // arrow-csv skips the header itself; its error messages count the part's lines from 0.
    let csv = arrow::csv::ReaderBuilder::new(schema.clone())
        .with_header(header.is_some())
        .with_batch_size(BATCH_ROWS)
        .build_buffered(input)
        .map_err(|e| bad(file, e.to_string()))?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(read_err)?;
    }
    // Closes are nearly all distinct, shares and dividends nearly constant per security: for
    // them a dictionary is work without gain (measured: the dictionary interner was a fifth of
    // ingest's CPU). Statistics only where a reader prunes by them: dates, ids, index codes.
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level 1 is valid")))
        .set_statistics_enabled(EnabledStatistics::Chunk);
    for column in ["close", "shares", "dividend"] {
        props = props.set_column_dictionary_enabled(ColumnPath::from(column), false);
    }
    for column in ["ticker", "sector", "close", "dividend"] {
        props = props.set_column_statistics_enabled(ColumnPath::from(column), EnabledStatistics::None);
    }
    let encode =
        |e: parquet::errors::ParquetError| IngestError::Encode { root: target.to_path_buf(), message: e.to_string() };
    let mut writer = ArrowWriter::try_new(File::create(target).map_err(read_err)?, schema.clone(), Some(props.build()))
        .map_err(encode)?;
    let mut rows = 0u64;
    for batch in csv {
        let batch = batch.map_err(|e| bad(file, file_lines(&e.to_string(), &schema, lines_before())))?;
        check(&batch).map_err(|(i, what)| {
            let line = lines_before() + 1 + u64::from(header.is_some()) + rows + i as u64;
            bad(file, format!("line {line}, {what}"))
        })?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).map_err(encode)?;
    }
    writer.close().map_err(encode)?;
    Ok(rows)
}

/// arrow-csv's parse errors say "for column <0-based index> at line <0-based line of the part>";
/// say the column's name and the line of the file (`before` lines precede the part) instead.
fn file_lines(message: &str, schema: &SchemaRef, before: u64) -> String {
    let number_after = |key: &str| -> Option<(usize, usize, usize)> {
        let start = message.find(key)? + key.len();
        let len = message[start..].find(|c: char| !c.is_ascii_digit())?;
        Some((start, start + len, message[start..start + len].parse().ok()?))
    };
    let mut out = message.to_string();
    if let Some((from, to, row)) = number_after(" at line ") {
        out.replace_range(from..to, &(row as u64 + 1 + before).to_string());
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

/// Converts every `constituents_YYYY.csv` of `files` into `out/year=YYYY/part-<n>.parquet`
/// (a file is cut into parts of about 32 MiB), with up to `threads` parts at a time. Returns
/// the rows written, or the error of a file.
pub fn constituents_to_parquet(files: &[PathBuf], out: &Path, threads: usize) -> Result<u64, IngestError> {
    let parts: Vec<Part> =
        files.iter().map(|f| parts(f)).collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut rows = 0;
                    while let Some(part) = parts.get(next.fetch_add(1, Ordering::Relaxed)) {
                        rows += convert(part, out)?;
                    }
                    Ok(rows)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("an ingest worker panicked")).sum()
    })
}
