//! The lake: typed Parquet tables, quarantine, ledger and raw archive under one local folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::{IngestError, LedgerEntry, SourceReport};

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

pub(crate) fn process_alive(pid: u32) -> bool {
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

    /// Keeps the raw file as received, once per content (`raw/<sha256>.csv`).
    pub(crate) fn archive_raw(&self, sha256: &str, staged: &Path) -> Result<(), IngestError> {
        let to = self.root.join(format!("raw/{sha256}.csv"));
        if to.is_file() { Ok(()) } else { self.move_in(staged, &to) }
    }

    /// Moves a staged file to `to` in the lake: a rename (readers never see half a file), or a
    /// copy then a rename when the staging folder is on another file system.
    fn move_in(&self, from: &Path, to: &Path) -> Result<(), IngestError> {
        let err = |source| IngestError::Read { file: to.to_path_buf(), source };
        std::fs::create_dir_all(to.parent().expect("a path in the lake")).map_err(err)?;
        if std::fs::rename(from, to).is_ok() {
            return Ok(());
        }
        let partial = to.with_extension("partial");
        std::fs::copy(from, &partial).and_then(|_| std::fs::rename(&partial, to)).map_err(err)
    }

    /// Where one ingested file's rows, quarantine and ledger entry live: `source=<name>/file=<file name>`.
    fn part(report: &SourceReport) -> String {
        let file =
            report.file.file_name().map_or_else(|| report.file.display().to_string(), |f| f.to_string_lossy().into());
        Self::part_of(&report.source, &file)
    }

    /// The part of `source`'s file named `file`.
    pub(crate) fn part_of(source: &str, file: &str) -> String {
        format!("source={source}/file={file}")
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

    /// Replaces the rows of the file `report` describes with its staged partitions under
    /// `staged`: Hive partitions by year of `date` (`year=2024/`), or by snapshot date for
    /// holdings (`as_of=2025-05-13/`). The file's earlier partitions go first (a corrected file
    /// may cover fewer years).
    pub(crate) async fn move_table(&self, report: &SourceReport, staged: &Path) -> Result<(), IngestError> {
        let prefix = format!("{}/{}", report.table, Self::part(report));
        self.delete_under(&prefix).await?;
        for file in crate::parquet_files(staged) {
            let partition = file.parent().and_then(|p| p.file_name()).expect("rows/<partition>/data.parquet");
            self.move_in(&file, &self.root.join(&prefix).join(partition).join("data.parquet"))?;
        }
        Ok(())
    }

    /// Deletes every object under `prefix`.
    async fn delete_under(&self, prefix: &str) -> Result<(), IngestError> {
        use futures::TryStreamExt;
        let lake_err = |source| IngestError::Lake { root: self.root.clone(), source };
        let found: Vec<_> = self.store.list(Some(&StorePath::from(prefix))).try_collect().await.map_err(lake_err)?;
        for meta in &found {
            self.delete(meta.location.as_ref()).await?;
        }
        // The local store leaves the emptied partition folders behind.
        for meta in &found {
            if let Some(folder) = self.root.join(meta.location.as_ref()).parent() {
                let _ = std::fs::remove_dir(folder);
            }
        }
        Ok(())
    }

    pub(crate) fn move_quarantine(&self, report: &SourceReport, staged: &Path) -> Result<(), IngestError> {
        self.move_in(staged, &self.root.join(format!("quarantine/{}/data.parquet", Self::part(report))))
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

#[cfg(test)]
mod tests {
    use exhibits_core::pipeline::{Source, SourceFormat};

    use crate::{Lake, Stored, read_source};

    #[tokio::test]
    async fn a_file_lands_by_year_and_a_correction_replaces_its_years() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("levels.csv");
        let source = Source::new("v", SourceFormat::CanonicalIndexLevels, file.clone());
        let lake = Lake::open(&dir.path().join("lake")).unwrap();
        let part = dir.path().join("lake/index_levels/source=v/file=levels.csv");
        let header = "date,index_id,price_level,total_return_level\n";
        std::fs::write(&file, format!("{header}2023-12-29,R2000,1,\n2024-01-02,R2000,2,\n2024-01-03,R2000,3,\n"))
            .unwrap();
        assert_eq!(lake.store(&read_source(&source).unwrap()).await.unwrap(), Stored::New);
        assert!(part.join("year=2023/data.parquet").is_file() && part.join("year=2024/data.parquet").is_file());
        assert_eq!(lake.store(&read_source(&source).unwrap()).await.unwrap(), Stored::Unchanged);

        // The vendor's correction drops the 2023 row: its partition goes too.
        std::fs::write(&file, format!("{header}2024-01-02,R2000,2,\n2024-01-03,R2000,3.5,\n")).unwrap();
        let Stored::Restated(r) = lake.store(&read_source(&source).unwrap()).await.unwrap() else { panic!() };
        assert_eq!((r.old_rows, r.new_rows), (3, 2));
        assert!(!part.join("year=2023").exists(), "the 2023 partition is gone");
        assert!(part.join("year=2024/data.parquet").is_file());
    }
}
