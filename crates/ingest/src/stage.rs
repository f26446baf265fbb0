//! Where a file's rows go while it is read: batches of accepted rows into Parquet files by
//! partition, rejected rows into a quarantine file, both in a staging folder that the lake
//! later moves into place. A run's staging folder sits inside the lake (so the move is a
//! rename) and is removed when the run is done with it.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::{RecordBatch, StringArray, UInt64Array};
use chrono::Datelike;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::keys::{Earlier, Keys};
use crate::{IngestError, Rejected, formats::quarantine_schema};

/// Rows per batch handed to the Parquet writers.
pub(crate) const BATCH_ROWS: usize = 64 * 1024;

/// A staging folder, removed when the last handle to it is dropped.
#[derive(Clone)]
pub struct Staging {
    dir: Arc<Folder>,
    next: Arc<AtomicUsize>,
}

/// The folder, and the folders made to hold it (removed with it when nothing else went there:
/// a run that stops before writing leaves no lake behind).
struct Folder {
    dir: tempfile::TempDir,
    made: Vec<PathBuf>,
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(self.dir.path());
        for dir in &self.made {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The prefix of staging folders in a lake: `.staging-<pid>-…`.
const PREFIX: &str = ".staging-";

impl Staging {
    /// A staging folder inside the lake under `root` (created if needed); folders that runs no
    /// longer alive left behind are removed.
    pub fn in_lake(root: &Path) -> Result<Staging, IngestError> {
        let err = |source| IngestError::Read { file: root.to_path_buf(), source };
        let made: Vec<PathBuf> =
            root.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).map(Path::to_path_buf).collect();
        std::fs::create_dir_all(root).map_err(err)?;
        for e in std::fs::read_dir(root).map_err(err)?.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix(PREFIX).and_then(|r| r.split('-').next()).and_then(|p| p.parse().ok());
            if pid.is_some_and(|pid| !crate::lake::process_alive(pid)) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = tempfile::Builder::new().prefix(&format!("{PREFIX}{}-", std::process::id())).tempdir_in(root);
        Ok(Staging { dir: Arc::new(Folder { dir: dir.map_err(err)?, made }), next: Arc::default() })
    }

    /// A staging folder in the system's temporary folder (reading without a lake).
    pub fn temporary() -> Result<Staging, IngestError> {
        let dir = tempfile::tempdir().map_err(|source| IngestError::Read { file: std::env::temp_dir(), source })?;
        Ok(Staging { dir: Arc::new(Folder { dir, made: Vec::new() }), next: Arc::default() })
    }

    /// A new folder for one file.
    pub(crate) fn file_dir(&self) -> Result<PathBuf, IngestError> {
        let dir = self.dir.dir.path().join(self.next.fetch_add(1, Ordering::Relaxed).to_string());
        std::fs::create_dir_all(&dir).map_err(|source| IngestError::Read { file: dir.clone(), source })?;
        Ok(dir)
    }
}

/// A Parquet writer's error, for the file or folder `root`.
fn encode_err(root: &Path) -> impl Fn(parquet::errors::ParquetError) -> IngestError + '_ {
    |e| IngestError::Encode { root: root.to_path_buf(), message: e.to_string() }
}

fn writer_props() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
        .build()
}

/// What reading a file put in its staging folder.
pub(crate) struct Staged {
    pub(crate) rows_read: u64,
    pub(crate) accepted: u64,
    pub(crate) rejected: u64,
    /// The first and last date of the accepted rows (days since the epoch).
    pub(crate) days: Option<(i32, i32)>,
    pub(crate) first_rejected: Option<Rejected>,
    /// The folder of the partitions (`year=YYYY/data.parquet`, `as_of=…/data.parquet`).
    pub(crate) rows: PathBuf,
    pub(crate) quarantine: PathBuf,
}

/// The rows of one file as it is read: what the readers hand over.
pub(crate) struct Out<'k> {
    keys: &'k mut Keys,
    rows: PathBuf,
    writers: BTreeMap<String, ArrowWriter<File>>,
    last_partition: Option<String>,
    quarantine: PathBuf,
    quarantined: Option<ArrowWriter<File>>,
    pending: Vec<Rejected>,
    source: String,
    file: String,
    first_rejected: Option<Rejected>,
    rows_read: u64,
    accepted: u64,
    rejected: u64,
    days: Option<(i32, i32)>,
}

impl<'k> Out<'k> {
    pub(crate) fn new(dir: &Path, source: &str, file: &str, keys: &'k mut Keys) -> Out<'k> {
        Out {
            keys,
            rows: dir.join("rows"),
            writers: BTreeMap::new(),
            last_partition: None,
            quarantine: dir.join("quarantine.parquet"),
            quarantined: None,
            pending: Vec::new(),
            source: source.to_string(),
            file: file.to_string(),
            first_rejected: None,
            rows_read: 0,
            accepted: 0,
            rejected: 0,
            days: None,
        }
    }

    /// One more row read from the file (accepted or not).
    pub(crate) fn row_read(&mut self) {
        self.rows_read += 1;
    }

    pub(crate) fn rows_read(&self) -> u64 {
        self.rows_read
    }

    /// Where (date, id) at `line` was delivered before (this file or another), if it was.
    pub(crate) fn earlier(&mut self, day: i32, id: &str, line: u64) -> Result<Option<Earlier>, IngestError> {
        self.keys.earlier(day, id, line)
    }

    /// Whether to stop reading: the file is not in date order and must be read again.
    pub(crate) fn stop(&self) -> bool {
        self.keys.revisited()
    }

    pub(crate) fn reject(&mut self, rejected: Rejected) -> Result<(), IngestError> {
        self.rejected += 1;
        if self.first_rejected.is_none() {
            self.first_rejected = Some(rejected.clone());
        }
        self.pending.push(rejected);
        if self.pending.len() >= 8192 { self.flush_rejected() } else { Ok(()) }
    }

    fn flush_rejected(&mut self) -> Result<(), IngestError> {
        let r = std::mem::take(&mut self.pending);
        let n = r.len();
        let batch = RecordBatch::try_new(
            quarantine_schema(),
            vec![
                Arc::new(StringArray::from(vec![self.source.as_str(); n])),
                Arc::new(StringArray::from(vec![self.file.as_str(); n])),
                Arc::new(UInt64Array::from_iter_values(r.iter().map(|r| r.line))),
                Arc::new(r.iter().map(|r| r.column.as_deref()).collect::<StringArray>()),
                Arc::new(StringArray::from_iter_values(r.iter().map(|r| r.raw.as_str()))),
                Arc::new(StringArray::from_iter_values(r.iter().map(|r| r.reason.as_str()))),
            ],
        )
        .expect("quarantine columns match the schema");
        if self.quarantined.is_none() {
            let file = std::fs::create_dir_all(self.quarantine.parent().expect("in the file's folder"))
                .and_then(|_| File::create(&self.quarantine))
                .map_err(|source| IngestError::Read { file: self.quarantine.clone(), source })?;
            let writer = ArrowWriter::try_new(file, quarantine_schema(), Some(writer_props()));
            self.quarantined = Some(writer.map_err(encode_err(&self.quarantine))?);
        }
        self.quarantined.as_mut().expect("opened").write(&batch).map_err(encode_err(&self.quarantine))
    }

    /// Accepted rows, in the lake table's schema: written to their partitions.
    pub(crate) fn write(&mut self, batch: RecordBatch) -> Result<(), IngestError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.accepted += batch.num_rows() as u64;
        for (partition, rows) in partitions(&batch, &mut self.days) {
            // A partition left behind is flushed: a file in date order keeps one row group open.
            if let Some(last) = self.last_partition.take().filter(|l| *l != partition)
                && let Some(w) = self.writers.get_mut(&last)
            {
                w.flush().map_err(encode_err(&self.rows))?;
            }
            self.last_partition = Some(partition.clone());
            let writer = match self.writers.entry(partition.clone()) {
                std::collections::btree_map::Entry::Occupied(w) => w.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let dir = self.rows.join(&partition);
                    let path = dir.join("data.parquet");
                    let file = std::fs::create_dir_all(&dir)
                        .and_then(|_| File::create(&path))
                        .map_err(|source| IngestError::Read { file: path.clone(), source })?;
                    let w =
                        ArrowWriter::try_new(file, rows.schema(), Some(writer_props())).map_err(encode_err(&path))?;
                    v.insert(w)
                }
            };
            writer.write(&rows).map_err(encode_err(&self.rows))?;
        }
        Ok(())
    }

    /// Closes the staged files.
    pub(crate) fn finish(mut self) -> Result<Staged, IngestError> {
        if !self.pending.is_empty() || self.quarantined.is_none() {
            self.flush_rejected()?;
        }
        for (_, w) in std::mem::take(&mut self.writers) {
            w.close().map_err(encode_err(&self.rows))?;
        }
        self.quarantined.take().expect("opened").close().map_err(encode_err(&self.quarantine))?;
        Ok(Staged {
            rows_read: self.rows_read,
            accepted: self.accepted,
            rejected: self.rejected,
            days: self.days,
            first_rejected: self.first_rejected.take(),
            rows: self.rows.clone(),
            quarantine: self.quarantine.clone(),
        })
    }
}

/// `batch`'s rows by Hive partition: `year=YYYY` of its `date` column, or `as_of=YYYY-MM-DD` of
/// a snapshot's `as_of`; in partition order, each partition's rows in the batch's order. The
/// batch's first and last date widen `days`.
pub(crate) fn partitions(batch: &RecordBatch, days: &mut Option<(i32, i32)>) -> Vec<(String, RecordBatch)> {
    use arrow::array::AsArray;
    let (column, by_year) = match batch.column_by_name("date") {
        Some(c) => (c, true),
        None => (batch.column_by_name("as_of").expect("a lake table has date or as_of"), false),
    };
    let values = column.as_primitive::<arrow::datatypes::Date32Type>().values();
    let key = |d: i32| {
        let date = exhibits_core::calendar::from_epoch_days(d);
        if by_year { format!("year={}", date.year()) } else { format!("as_of={date}") }
    };
    let (lo, hi) = values.iter().fold((i32::MAX, i32::MIN), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
    *days = Some(days.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
    // A batch within one partition (the usual case) is passed on whole.
    if key(lo) == key(hi) {
        return vec![(key(lo), batch.clone())];
    }
    let mut rows: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (i, d) in values.iter().enumerate() {
        rows.entry(key(*d)).or_default().push(i as u32);
    }
    rows.into_iter()
        .map(|(key, idx)| {
            let idx = arrow::array::UInt32Array::from(idx);
            (key, arrow::compute::take_record_batch(batch, &idx).expect("indices within the batch"))
        })
        .collect()
}
