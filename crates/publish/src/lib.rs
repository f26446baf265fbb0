//! `exhibits-publish`: exhibit datasets → BI-friendly Parquet in an object store.
//!
//! Layout under the publish root (SPEC §7):
//!
//! ```text
//! <dataset>/as_of=YYYY-MM-DD/part-<sha256:16>.parquet   the data; `as_of` is also a column
//! manifests/as_of=YYYY-MM-DD.json                       datasets, files, rows, sha256, schemas, inputs
//! latest.json                                           {"as_of": …, "manifest": …}
//! ```
//!
//! Order of writes: every data file, then the manifest, then `latest.json`, and only then the
//! files a re-publish of the same date superseded. Each put is atomic (the local store writes a
//! temporary file and renames it) and data files are named by their content, so a new file never
//! replaces one an earlier manifest lists: a reader that follows `latest.json` to a manifest
//! finds exactly the files it lists, whenever the publisher is killed. (A reader that globs a
//! partition may briefly see a superseded file beside the new one, until the cleanup.)
//! `EXHIBITS_FAILPOINT=n` kills the publisher with SIGKILL right before its n-th store write,
//! for the tests that prove this; `EXHIBITS_FAILPOINT=n:stop` stops it there with SIGSTOP
//! instead, so that a test can change the world (stop the server, publish from elsewhere)
//! before it continues with SIGCONT.
//!
//! The Parquet profile is chosen for BI readers (Power BI, Tableau, DuckDB, pandas, Spark):
//! `Date32` dates, timestamps as microseconds in UTC (never nanoseconds or INT96), the
//! partition column kept inside the files, zstd compression, row groups of at most 1 Mi rows,
//! page-level statistics. Files carry no wall-clock time, so publishing the same as-of date
//! again writes byte-identical data files.

mod parquet_profile;

pub use parquet_profile::{METADATA_KEY, encode_parquet, with_as_of};

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use chrono::NaiveDate;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};
use serde::Serialize;

use exhibits_core::{Classify, ExitStatus};

/// An error while publishing.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("publish target {url}: {what}")]
    Target { url: String, what: String },
    #[error("publish target {url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("dataset {dataset}: cannot encode Parquet: {message}")]
    Encode { dataset: String, message: String },
    #[error("publish target {url}: {what}")]
    Contended { url: String, what: String },
}

impl Classify for PublishError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            PublishError::Target { .. } => ExitStatus::Usage,
            PublishError::Store { .. } | PublishError::Contended { .. } => ExitStatus::Transient,
            PublishError::Encode { .. } => ExitStatus::DataError,
        }
    }
}

/// Data files larger than this are uploaded in parts of this size (S3 needs at least 5 MiB).
pub const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;

/// A column of a published schema, as recorded in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// One published dataset in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    pub name: String,
    pub files: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub schema: Vec<ColumnInfo>,
}

/// The run manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub pipeline: String,
    pub as_of: String,
    pub code_version: String,
    pub published_at: String,
    pub datasets: Vec<DatasetInfo>,
    /// Fingerprints of the inputs (per source: file, sha256, rows), as given by the caller.
    pub inputs: serde_json::Value,
    /// Datasets of the pipeline not published by this run, with why (a failed data test or
    /// contract): readers keep the earlier as-of partitions of those.
    pub withheld: serde_json::Value,
}

/// What a run publishes besides the data: who, when, from what.
pub struct RunInfo<'a> {
    pub pipeline: &'a str,
    pub as_of: NaiveDate,
    pub inputs: serde_json::Value,
    pub withheld: serde_json::Value,
    /// Retention: keep the newest N as-of dates.
    pub keep_last: Option<usize>,
}

/// What [`Publisher::publish`] did besides writing the data.
#[derive(Debug, Clone)]
pub struct Published {
    pub manifest: Manifest,
    /// Whether `latest.json` now points at this run (not when it already pointed at a later date).
    pub latest_advanced: bool,
    /// As-of dates removed by retention.
    pub removed_as_of: Vec<NaiveDate>,
}

/// A dataset to publish.
pub struct Dataset<'a> {
    pub name: &'a str,
    pub schema: SchemaRef,
    pub batches: &'a [RecordBatch],
    /// What the dataset is and its conventions, written into every file under the key
    /// `exhibits` (a JSON object): one key, so the bytes do not depend on map order.
    pub metadata: serde_json::Value,
}

/// A publish target.
pub struct Publisher {
    url: String,
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the store (the path part of an `s3://bucket/prefix` URL).
    prefix: String,
    /// Store writes so far, for `EXHIBITS_FAILPOINT`.
    writes: std::sync::atomic::AtomicUsize,
    failpoint: Option<(usize, &'static str)>,
}

impl Publisher {
    /// Opens a target: a local folder (created if needed) or an object store URL, `s3://bucket/prefix`
    /// (`AWS_*` variables: credentials, `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`),
    /// `az://container/prefix` (`AZURE_*`) or `gs://bucket/prefix` (`GOOGLE_*`). Credentials come
    /// from the environment only and never appear in errors, logs or the manifest.
    pub fn open(url: &str) -> Result<Publisher, PublishError> {
        let target = |what: String| PublishError::Target { url: url.to_string(), what };
        let Some((scheme, rest)) = url.split_once("://").filter(|_| exhibits_core::pipeline::is_url(url)) else {
            return Self::open_local(url, url);
        };
        let prefix = rest.split_once('/').map(|(_, p)| p.trim_matches('/').to_string()).unwrap_or_default();
        let (retry, timeout) = retry_from_env().map_err(target)?;
        let store: Arc<dyn ObjectStore> = match scheme {
            "file" => return Self::open_local(url, rest),
            "s3" | "s3a" => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_retry(retry)
                    .with_config(object_store::aws::AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), timeout)
                    .build()
                    .map_err(|e| target(e.to_string()))?,
            ),
            "az" | "azure" | "abfs" | "abfss" => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry)
                    .with_config(object_store::azure::AzureConfigKey::Client(ClientConfigKey::Timeout), timeout)
                    .build()
                    .map_err(|e| target(e.to_string()))?,
            ),
            "gs" => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_retry(retry)
                    .with_config(object_store::gcp::GoogleConfigKey::Client(ClientConfigKey::Timeout), timeout)
                    .build()
                    .map_err(|e| target(e.to_string()))?,
            ),
            other => return Err(target(format!("unknown scheme {other}://; use a folder, s3://, az:// or gs://"))),
        };
        Ok(Publisher::new(url, store, prefix))
    }

    fn new(url: &str, store: Arc<dyn ObjectStore>, prefix: String) -> Publisher {
        let failpoint = std::env::var("EXHIBITS_FAILPOINT").ok().and_then(|v| match v.split_once(':') {
            Some((n, "stop")) => Some((n.parse().ok()?, "-STOP")),
            _ => Some((v.parse().ok()?, "-KILL")),
        });
        Publisher { url: url.to_string(), store, prefix, writes: Default::default(), failpoint }
    }

    /// Called before every store write: at the `EXHIBITS_FAILPOINT`-th, the process kills
    /// itself with SIGKILL (no destructor, no flush), as an operator or the OOM killer would,
    /// or stops itself with SIGSTOP until a SIGCONT.
    fn before_write(&self) {
        let n = self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if let Some((at, signal)) = self.failpoint
            && at == n
        {
            let _ = std::process::Command::new("kill").args([signal, &std::process::id().to_string()]).status();
            if signal == "-KILL" {
                std::process::abort();
            }
        }
    }

    async fn put(&self, key: &StorePath, payload: PutPayload) -> Result<(), PublishError> {
        self.before_write();
        self.store.put(key, payload).await.map(|_| ()).map_err(self.store_err())
    }

    /// Writes a data file: one put up to [`MULTIPART_THRESHOLD`], parts of that size above it
    /// (each part retried on its own; the object appears only when the upload completes).
    /// Returns the number of parts (1 for a single put).
    async fn put_data(&self, key: &StorePath, bytes: Bytes) -> Result<usize, PublishError> {
        if bytes.len() <= MULTIPART_THRESHOLD {
            self.put(key, PutPayload::from(bytes)).await?;
            return Ok(1);
        }
        self.before_write();
        let parts = bytes.len().div_ceil(MULTIPART_THRESHOLD);
        let upload = self.store.put_multipart(key).await.map_err(self.store_err())?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, MULTIPART_THRESHOLD);
        writer.put(bytes);
        writer.finish().await.map_err(self.store_err())?;
        Ok(parts)
    }

    async fn delete(&self, key: &StorePath) -> Result<(), PublishError> {
        self.before_write();
        match self.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_err()(e)),
        }
    }

    fn open_local(url: &str, path: &str) -> Result<Publisher, PublishError> {
        let target = |what: String| PublishError::Target { url: url.to_string(), what };
        let dir = PathBuf::from(path);
        std::fs::create_dir_all(&dir).map_err(|e| target(format!("cannot create the folder: {e}")))?;
        // Deleting a partition's files (retention) also removes its now empty folder, as on an
        // object store, so that folder-listing readers see no empty partitions.
        let store =
            LocalFileSystem::new_with_prefix(&dir).map_err(|e| target(e.to_string()))?.with_automatic_cleanup(true);
        Ok(Publisher::new(url, Arc::new(store), String::new()))
    }

    /// The store key of `relative` (a path under the publish root).
    fn key(&self, relative: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(relative)
        } else {
            StorePath::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// The target as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn store_err(&self) -> impl Fn(object_store::Error) -> PublishError + '_ {
        move |source| PublishError::Store { url: self.url.clone(), source }
    }

    /// Publishes `datasets` for `as_of`, then the manifest, then `latest.json`.
    pub async fn publish(&self, run: RunInfo<'_>, datasets: &[Dataset<'_>]) -> Result<Published, PublishError> {
        let as_of = run.as_of;
        let mut infos = Vec::with_capacity(datasets.len());
        for ds in datasets {
            let (schema, batches) = with_as_of(&ds.schema, ds.batches, as_of)
                .map_err(|e| PublishError::Encode { dataset: ds.name.to_string(), message: e.to_string() })?;
            let bytes = encode_parquet(&schema, &batches, &ds.metadata.to_string())
                .map_err(|e| PublishError::Encode { dataset: ds.name.to_string(), message: e.to_string() })?;
            let sha256 = exhibits_core::sha256_hex(&bytes);
            let file = format!("{}/as_of={as_of}/part-{}.parquet", ds.name, &sha256[..16]);
            let info = DatasetInfo {
                name: ds.name.to_string(),
                files: vec![file.clone()],
                rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
                bytes: bytes.len() as u64,
                sha256,
                schema: schema
                    .fields()
                    .iter()
                    .map(|f| ColumnInfo {
                        name: f.name().clone(),
                        data_type: f.data_type().to_string(),
                        nullable: f.is_nullable(),
                    })
                    .collect(),
            };
            let parts = self.put_data(&self.key(&file), bytes).await?;
            if parts > 1 {
                tracing::info!(dataset = ds.name, parts, "uploaded in parts");
            }
            infos.push(info);
        }
        let manifest = Manifest {
            pipeline: run.pipeline.to_string(),
            as_of: as_of.to_string(),
            code_version: format!("exhibits {}", env!("CARGO_PKG_VERSION")),
            published_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            datasets: infos,
            inputs: run.inputs,
            withheld: run.withheld,
        };
        let manifest_path = format!("manifests/as_of={as_of}.json");
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        self.put(&self.key(&manifest_path), PutPayload::from(Bytes::from(json))).await?;
        let latest_advanced = self.advance_latest(as_of, &manifest_path).await?;
        // Only now may the files this date's earlier manifest listed go.
        for ds in &manifest.datasets {
            self.remove_superseded(&format!("{}/as_of={as_of}", ds.name), &ds.files[0]).await?;
        }
        let removed_as_of = match run.keep_last {
            Some(keep) => self.apply_retention(keep).await?,
            None => Vec::new(),
        };
        Ok(Published { manifest, latest_advanced, removed_as_of })
    }

    /// Points `latest.json` at this run unless it already points at a later as-of date (a
    /// backfill must not move readers back in time). Written with a conditional put where the
    /// store supports it (create if absent, else update only the version just read), so of two
    /// concurrent publishers one wins and the other fails with a transient error; the local
    /// store has no conditional update and overwrites (runs on one lake hold its lock).
    async fn advance_latest(&self, as_of: NaiveDate, manifest_path: &str) -> Result<bool, PublishError> {
        let key = self.key("latest.json");
        let current = match self.store.get(&key).await {
            Ok(found) => {
                let meta = found.meta.clone();
                let bytes = found.bytes().await.map_err(self.store_err())?;
                let pointed: Option<NaiveDate> = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["as_of"].as_str().and_then(|d| d.parse().ok()));
                Some((meta, pointed))
            }
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(self.store_err()(e)),
        };
        if let Some((_, Some(pointed))) = &current
            && *pointed > as_of
        {
            return Ok(false);
        }
        let latest = serde_json::json!({ "as_of": as_of.to_string(), "manifest": manifest_path });
        let payload = PutPayload::from(Bytes::from(serde_json::to_vec_pretty(&latest).expect("pointer serialises")));
        let mode = match &current {
            Some((meta, _)) => {
                PutMode::Update(UpdateVersion { e_tag: meta.e_tag.clone(), version: meta.version.clone() })
            }
            None => PutMode::Create,
        };
        let contended = |detail: String| PublishError::Contended {
            url: self.url.clone(),
            what: format!("latest.json changed while this run was publishing (another publisher?){detail}; retry"),
        };
        self.before_write();
        match self.store.put_opts(&key, payload.clone(), PutOptions::from(mode)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotImplemented { .. }) => {
                // The local store has no conditional update: compare the version read above with
                // the one there now, right before replacing it (a window of microseconds).
                let now = self.store.head(&key).await.map(|m| m.e_tag).map_err(self.store_err())?;
                if current.as_ref().map(|(meta, _)| &meta.e_tag) != Some(&now) {
                    return Err(contended(String::new()));
                }
                self.store.put(&key, payload).await.map_err(self.store_err())?;
                Ok(true)
            }
            Err(e @ (object_store::Error::Precondition { .. } | object_store::Error::AlreadyExists { .. })) => {
                Err(contended(format!(": {e}")))
            }
            Err(e) => Err(self.store_err()(e)),
        }
    }

    /// Removes every as-of date but the newest `keep`: its dataset partitions, then its manifest.
    async fn apply_retention(&self, keep: usize) -> Result<Vec<NaiveDate>, PublishError> {
        let manifests: Vec<_> =
            self.store.list(Some(&self.key("manifests"))).try_collect().await.map_err(self.store_err())?;
        let mut dated: Vec<(NaiveDate, StorePath)> = manifests
            .into_iter()
            .filter_map(|m| {
                let name = m.location.filename()?.to_string();
                let date = name.strip_prefix("as_of=")?.strip_suffix(".json")?.parse().ok()?;
                Some((date, m.location))
            })
            .collect();
        dated.sort_by_key(|d| std::cmp::Reverse(d.0));
        let mut removed = Vec::new();
        for (date, manifest) in dated.into_iter().skip(keep) {
            let bytes =
                self.store.get(&manifest).await.map_err(self.store_err())?.bytes().await.map_err(self.store_err())?;
            let old: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            for ds in old["datasets"].as_array().into_iter().flatten() {
                let Some(name) = ds["name"].as_str() else { continue };
                let partition = self.key(&format!("{name}/as_of={date}"));
                let files: Vec<_> = self.store.list(Some(&partition)).try_collect().await.map_err(self.store_err())?;
                for f in files {
                    self.delete(&f.location).await?;
                }
            }
            self.delete(&manifest).await?;
            removed.push(date);
        }
        Ok(removed)
    }

    /// Deletes the files of `partition` other than `keep`: those of an earlier publish of the
    /// same date with other content (or left by a publisher killed before this cleanup).
    async fn remove_superseded(&self, partition: &str, keep: &str) -> Result<(), PublishError> {
        let keep = self.key(keep);
        let listed: Vec<_> =
            self.store.list(Some(&self.key(partition))).try_collect().await.map_err(self.store_err())?;
        for meta in listed {
            if meta.location != keep {
                self.delete(&meta.location).await?;
            }
        }
        Ok(())
    }
}

/// Retries and request timeout for object stores: `EXHIBITS_STORE_MAX_RETRIES` (default 10),
/// `EXHIBITS_STORE_RETRY_SECS` (total time spent retrying, default 180) and
/// `EXHIBITS_STORE_TIMEOUT_SECS` (per request, default 30). Retries back off exponentially;
/// when they are exhausted the run fails with exit code 3 and `latest.json` is untouched.
fn retry_from_env() -> Result<(RetryConfig, String), String> {
    let var = |name: &str, default: u64| -> Result<u64, String> {
        match std::env::var(name) {
            Ok(v) => v.parse().map_err(|_| format!("{name}={v:?} is not a whole number")),
            Err(_) => Ok(default),
        }
    };
    let retry = RetryConfig {
        max_retries: var("EXHIBITS_STORE_MAX_RETRIES", 10)? as usize,
        retry_timeout: std::time::Duration::from_secs(var("EXHIBITS_STORE_RETRY_SECS", 180)?),
        ..RetryConfig::default()
    };
    Ok((retry, format!("{}s", var("EXHIBITS_STORE_TIMEOUT_SECS", 30)?)))
}
