//! The lake: typed Parquet tables, quarantine, ledger and raw archive under one local folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, StringArray, UInt64Array};
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::{IngestError, LedgerEntry, Rejected, SourceReport, formats::quarantine_schema};

/// The lake under a local folder.
#[derive(Debug, Clone)]
pub struct Lake {
    root: PathBuf,
    store: Arc<LocalFileSystem>,
}

/// The lake's lock file: one run at a time writes a lake (and publishes from it).
const LOCK_FILE: &str = ".exhibits.lock";

/// Held while a run writes the lake; removed when dropped. A lock left by a process that no
/// longer exists (a run killed with SIGKILL) is taken over with a warning.
#[derive(Debug)]
pub struct LakeLock {
    path: PathBuf,
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn process_alive(pid: u32) -> bool {
    // Linux: /proc/<pid> exists while the process does. Elsewhere, assume alive (never steal).
    if cfg!(target_os = "linux") { Path::new(&format!("/proc/{pid}")).exists() } else { true }
}

impl Lake {
    /// Takes the lake's lock for a run of `what` (e.g. "pipeline nightly, as-of 2024-12-31").
    pub fn lock(&self, what: &str) -> Result<LakeLock, IngestError> {
        let path = self.root.join(LOCK_FILE);
        let holder =
            format!("pid {} ({what}, since {})", std::process::id(), chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"));
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(holder.as_bytes())
                        .map_err(|source| IngestError::Read { file: path.clone(), source })?;
                    return Ok(LakeLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let held_by = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid = held_by
                        .strip_prefix("pid ")
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|p| p.parse().ok());
                    match pid {
                        Some(pid) if !process_alive(pid) => {
                            tracing::warn!(
                                "{}: taking over a lock left by a run that no longer exists: {held_by}",
                                path.display()
                            );
                            let _ = std::fs::remove_file(&path);
                        }
                        _ => return Err(IngestError::Locked { root: self.root.clone(), holder: held_by }),
                    }
                }
                Err(source) => return Err(IngestError::Read { file: path.clone(), source }),
            }
        }
        Err(IngestError::Locked {
            root: self.root.clone(),
            holder: "another run (it took the lock as this one freed it)".into(),
        })
    }

    /// Opens (and creates if needed) the lake under `root`.
    pub fn open(root: &Path) -> Result<Lake, IngestError> {
        std::fs::create_dir_all(root).map_err(|source| IngestError::Read { file: root.to_owned(), source })?;
        let root = root.canonicalize().map_err(|source| IngestError::Read { file: root.to_owned(), source })?;
        let store = LocalFileSystem::new_with_prefix(&root)
            .map_err(|source| IngestError::Lake { root: root.clone(), source })?;
        Ok(Lake { root, store: Arc::new(store) })
    }

    /// The lake's folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of one table (all its sources).
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    async fn put(&self, path: &str, bytes: Bytes) -> Result<(), IngestError> {
        // LocalFileSystem writes to a temporary file and renames it: readers never see half a file.
        self.store
            .put(&StorePath::from(path), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|source| IngestError::Lake { root: self.root.clone(), source })
    }

    fn encode(&self, batch: &RecordBatch) -> Result<Bytes, IngestError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
            .build();
        let encode_err =
            |e: parquet::errors::ParquetError| IngestError::Encode { root: self.root.clone(), message: e.to_string() };
        let mut buf = Vec::new();
        let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(encode_err)?;
        writer.write(batch).map_err(encode_err)?;
        writer.close().map_err(encode_err)?;
        Ok(Bytes::from(buf))
    }

    pub(crate) async fn archive_raw(&self, sha256: &str, raw: &[u8]) -> Result<(), IngestError> {
        self.put(&format!("raw/{sha256}.csv"), Bytes::copy_from_slice(raw)).await
    }

    /// Where one ingested file's rows, quarantine and ledger entry live: `source=<name>/file=<file name>`.
    fn part(report: &SourceReport) -> String {
        let file =
            report.file.file_name().map_or_else(|| report.file.display().to_string(), |f| f.to_string_lossy().into());
        format!("source={}/file={file}", report.source)
    }

    async fn get(&self, path: &str) -> Result<Option<Bytes>, IngestError> {
        match self.store.get(&StorePath::from(path)).await {
            Ok(got) => got.bytes().await.map(Some),
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => Err(e),
        }
        .map_err(|source| IngestError::Lake { root: self.root.clone(), source })
    }

    async fn delete(&self, path: &str) -> Result<(), IngestError> {
        match self.store.delete(&StorePath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(IngestError::Lake { root: self.root.clone(), source }),
        }
    }

    /// The ledger entry of the file `report` describes, as the lake holds it now.
    pub(crate) async fn ledger_entry(&self, report: &SourceReport) -> Result<Option<LedgerEntry>, IngestError> {
        let Some(bytes) = self.get(&format!("ledger/{}.json", Self::part(report))).await? else { return Ok(None) };
        // An entry this version cannot read (an older layout) is treated as absent: the file is ingested again.
        Ok(serde_json::from_slice(&bytes).ok())
    }

    pub(crate) async fn write_table(&self, report: &SourceReport, batch: &RecordBatch) -> Result<(), IngestError> {
        let bytes = self.encode(batch)?;
        self.put(&format!("{}/{}/data.parquet", report.table, Self::part(report)), bytes).await
    }

    pub(crate) async fn write_quarantine(
        &self,
        report: &SourceReport,
        rejected: &[Rejected],
    ) -> Result<(), IngestError> {
        let n = rejected.len();
        let batch = RecordBatch::try_new(
            quarantine_schema(),
            vec![
                Arc::new(StringArray::from(vec![report.source.as_str(); n])),
                Arc::new(StringArray::from(vec![crate::file_label(&report.file); n])),
                Arc::new(UInt64Array::from_iter_values(rejected.iter().map(|r| r.line))),
                Arc::new(rejected.iter().map(|r| r.column.as_deref()).collect::<StringArray>()),
                Arc::new(StringArray::from_iter_values(rejected.iter().map(|r| r.raw.as_str()))),
                Arc::new(StringArray::from_iter_values(rejected.iter().map(|r| r.reason.as_str()))),
            ],
        )
        .expect("quarantine columns match the schema");
        let bytes = self.encode(&batch)?;
        self.put(&format!("quarantine/{}/data.parquet", Self::part(report)), bytes).await
    }

    pub(crate) async fn write_ledger(&self, entry: &LedgerEntry) -> Result<(), IngestError> {
        let json = serde_json::to_vec_pretty(entry).expect("ledger entry serialises");
        self.put(&format!("ledger/{}.json", Self::part(&entry.report)), Bytes::from(json)).await
    }

    /// Removes what the lake's first layout (one file per source, `source=<name>/data.parquet`)
    /// holds for `report`'s source: its rows are the ones being stored again per file.
    pub(crate) async fn remove_single_file_layout(&self, report: &SourceReport) -> Result<(), IngestError> {
        self.delete(&format!("{}/source={}/data.parquet", report.table, report.source)).await?;
        self.delete(&format!("quarantine/source={}/data.parquet", report.source)).await?;
        self.delete(&format!("ledger/source={}.json", report.source)).await
    }
}
