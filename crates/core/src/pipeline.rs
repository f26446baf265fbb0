//! The pipeline file: one TOML per scheduled job (`pipelines/*.toml`).
//!
//! ```toml
//! name = "nightly"
//! models = "../sql"            # folder of SQL models
//! lake = "../var/lake"         # where ingest writes typed Parquet
//!
//! [publish]
//! url = "../var/publish"       # a path or an s3:// / az:// / gs:// URL
//! datasets = ["daily_returns", "largest_daily_moves"]
//!
//! [[sources]]
//! name = "r2000"
//! format = "yahoo_close"       # see `SourceFormat`
//! path = "../data/IWM.csv"
//! index_id = "R2000"
//! basis = "total_return"
//!
//! [params]                     # typed values for the SQL models, as table `config.params`
//! top_n = 4
//! window_start = 2023-07-01
//!
//! [[periods]]                  # rows of table `config.periods`
//! start = 2023-06-30
//! end = 2023-10-31
//! ```
//!
//! Relative paths are resolved against the folder holding the pipeline file, so a job runs the
//! same from any working directory (cron, Airflow). Unknown keys are errors: a typo in a
//! scheduled job must fail `check`, not silently fall back to a default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Deserialize;

use crate::exit::{Classify, ExitStatus};

/// An error reading or validating a pipeline file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("cannot read pipeline file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("pipeline file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("pipeline file {path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

impl Classify for PipelineError {
    fn exit_status(&self) -> ExitStatus {
        ExitStatus::Usage
    }
}

/// The vendor formats a source can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// The project's long index-level CSV: `date,index_id,price_level,total_return_level`.
    CanonicalIndexLevels,
    /// Yahoo-style `Date,Close` or `Date,Open,High,Low,Close,Adj Close,Volume` of one index.
    YahooClose,
    /// The project's yield CSV: `date,yield_pct`.
    CanonicalYields,
    /// Yahoo-style `Date,Close` of a yield index such as ^TNX (percent).
    YahooYield,
}

impl SourceFormat {
    /// The lake table this format lands in.
    pub fn table(self) -> &'static str {
        match self {
            SourceFormat::CanonicalIndexLevels | SourceFormat::YahooClose => "index_levels",
            SourceFormat::CanonicalYields | SourceFormat::YahooYield => "yields",
        }
    }
}

/// What a single-series index file's level measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnBasis {
    /// Dividends reinvested (a total-return level, or an ETF's adjusted close).
    TotalReturn,
    /// Price only.
    Price,
}

/// One vendor file (or a file per run) and how to read it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Unique within the pipeline; names the file's rows in the lake and the quarantine.
    pub name: String,
    pub format: SourceFormat,
    /// Resolved against the pipeline file's folder.
    pub path: PathBuf,
    /// For single-index formats: the index id the rows get.
    pub index_id: Option<String>,
    /// For single-index formats: what the level measures (default: total return).
    pub basis: Option<ReturnBasis>,
    /// For yield formats: the series id the rows get.
    pub series_id: Option<String>,
    /// Whether the file must reach the last trading day on or before the as-of date for the
    /// run to proceed (exit 99 otherwise). Defaults to true for index levels, false for yields
    /// (bond and equity holidays differ).
    pub require_as_of: Option<bool>,
}

impl Source {
    /// Whether this source must cover the as-of trading day.
    pub fn requires_as_of(&self) -> bool {
        self.require_as_of.unwrap_or(self.format.table() == "index_levels")
    }
}

/// Where and what to publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// A local path (resolved against the pipeline file) or an object store URL.
    pub url: String,
    /// Models published as datasets, in this order.
    pub datasets: Vec<String>,
    /// Keep only the newest N as-of dates (their partitions and manifests); all when absent.
    #[serde(default)]
    pub keep_last: Option<usize>,
}

/// A typed parameter value, as it reaches SQL.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Date(NaiveDate),
}

/// A configured period of table `config.periods`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub label: Option<String>,
    #[serde(deserialize_with = "de_date")]
    pub start: NaiveDate,
    #[serde(deserialize_with = "de_date")]
    pub end: NaiveDate,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: String,
    #[serde(default)]
    description: Option<String>,
    models: PathBuf,
    lake: PathBuf,
    publish: Publish,
    #[serde(default)]
    sources: Vec<Source>,
    #[serde(default)]
    params: BTreeMap<String, toml::Value>,
    #[serde(default)]
    periods: Vec<Period>,
}

/// A loaded, validated pipeline with absolute paths.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file it was read from.
    pub file: PathBuf,
    pub name: String,
    pub description: Option<String>,
    /// Folder of SQL models.
    pub models_dir: PathBuf,
    /// Lake root (a local folder).
    pub lake_dir: PathBuf,
    pub publish: Publish,
    pub sources: Vec<Source>,
    /// Parameters in name order.
    pub params: Vec<(String, ParamValue)>,
    pub periods: Vec<Period>,
}

fn de_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let v = toml::value::Datetime::deserialize(d)?;
    match (v.date, v.time) {
        (Some(date), None) => NaiveDate::from_ymd_opt(i32::from(date.year), u32::from(date.month), u32::from(date.day))
            .ok_or_else(|| serde::de::Error::custom(format!("{v} is not a calendar date"))),
        _ => Err(serde::de::Error::custom(format!("expected a date like 2024-06-28, found {v}"))),
    }
}

fn param_value(name: &str, v: &toml::Value) -> Result<ParamValue, String> {
    Ok(match v {
        toml::Value::String(s) => ParamValue::Text(s.clone()),
        toml::Value::Integer(i) => ParamValue::Int(*i),
        toml::Value::Float(f) => ParamValue::Float(*f),
        toml::Value::Boolean(b) => ParamValue::Bool(*b),
        toml::Value::Datetime(dt) => match (dt.date, dt.time) {
            (Some(d), None) => ParamValue::Date(
                NaiveDate::from_ymd_opt(i32::from(d.year), u32::from(d.month), u32::from(d.day))
                    .ok_or_else(|| format!("param {name}: {dt} is not a calendar date"))?,
            ),
            _ => {
                return Err(format!("param {name}: only plain dates (2024-06-28) are supported, found {dt}"));
            }
        },
        other => {
            return Err(format!(
                "param {name}: expected a string, integer, float, boolean or date, found {}",
                other.type_str()
            ));
        }
    })
}

/// Removes `.` and `name/..` pairs without touching the file system (the folders may not exist
/// yet), so that logs and manifests show `var/lake` rather than `pipelines/../var/lake`.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            Component::ParentDir if matches!(out.last(), Some(Component::RootDir)) => {}
            other => out.push(other),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}

/// Whether `s` is a URL with a scheme (`s3://…`) rather than a local path.
pub fn is_url(s: &str) -> bool {
    s.split_once("://")
        .is_some_and(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl Pipeline {
    /// Reads and validates a pipeline file.
    pub fn load(file: &Path) -> Result<Pipeline, PipelineError> {
        let text =
            std::fs::read_to_string(file).map_err(|source| PipelineError::Read { path: file.to_owned(), source })?;
        Self::parse(file, &text)
    }

    /// Parses pipeline text as if read from `file` (which anchors relative paths).
    pub fn parse(file: &Path, text: &str) -> Result<Pipeline, PipelineError> {
        let raw: RawPipeline =
            toml::from_str(text).map_err(|e| PipelineError::Parse { path: file.to_owned(), message: e.to_string() })?;
        let invalid = |what: String| PipelineError::Invalid { path: file.to_owned(), what };
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let resolve = |p: &Path| {
            if p.is_absolute() { p.to_owned() } else { normalize(&base.join(p)) }
        };

        let mut names = std::collections::HashSet::new();
        let mut sources = Vec::with_capacity(raw.sources.len());
        for mut s in raw.sources {
            if !names.insert(s.name.clone()) {
                return Err(invalid(format!("two sources are named {:?}; source names must be unique", s.name)));
            }
            match s.format {
                SourceFormat::YahooClose if s.index_id.is_none() => {
                    return Err(invalid(format!("source {:?} (format yahoo_close) needs index_id = \"…\"", s.name)));
                }
                SourceFormat::CanonicalYields | SourceFormat::YahooYield if s.series_id.is_none() => {
                    return Err(invalid(format!("source {:?} (a yield format) needs series_id = \"…\"", s.name)));
                }
                _ => {}
            }
            s.path = resolve(&s.path);
            sources.push(s);
        }
        let params = raw
            .params
            .iter()
            .map(|(k, v)| param_value(k, v).map(|pv| (k.clone(), pv)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        if params.iter().any(|(k, _)| k == "as_of") {
            return Err(invalid("param as_of is set by the run (--as-of); remove it from [params]".into()));
        }
        for p in &raw.periods {
            if p.end <= p.start {
                return Err(invalid(format!("period {} → {} ends before it starts", p.start, p.end)));
            }
        }
        if raw.publish.keep_last == Some(0) {
            return Err(invalid("[publish] keep_last must be at least 1".into()));
        }
        let mut publish = raw.publish;
        if !is_url(&publish.url) {
            publish.url = resolve(Path::new(&publish.url)).to_string_lossy().into_owned();
        }
        Ok(Pipeline {
            file: file.to_owned(),
            name: raw.name,
            description: raw.description,
            models_dir: resolve(&raw.models),
            lake_dir: resolve(&raw.lake),
            publish,
            sources,
            params,
            periods: raw.periods,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
models = "../sql"
lake = "lake"
[publish]
url = "out"
datasets = ["a"]
[[sources]]
name = "x"
format = "yahoo_close"
path = "data/x.csv"
index_id = "R2000"
[params]
top_n = 4
start = 2023-07-01
who = "R2000"
[[periods]]
start = 2023-06-30
end = 2023-10-31
"#;

    #[test]
    fn resolves_paths_against_the_pipeline_folder_and_types_params() {
        let p = Pipeline::parse(Path::new("/jobs/pipelines/t.toml"), MINIMAL).unwrap();
        assert_eq!(p.models_dir, Path::new("/jobs/sql"));
        assert_eq!(p.sources[0].path, Path::new("/jobs/pipelines/data/x.csv"));
        assert_eq!(p.publish.url, "/jobs/pipelines/out");
        assert!(p.sources[0].requires_as_of());
        assert_eq!(
            p.params,
            vec![
                ("start".into(), ParamValue::Date(NaiveDate::from_ymd_opt(2023, 7, 1).unwrap())),
                ("top_n".into(), ParamValue::Int(4)),
                ("who".into(), ParamValue::Text("R2000".into())),
            ]
        );
    }

    #[test]
    fn normalize_folds_parent_components_lexically() {
        assert_eq!(normalize(Path::new("pipelines/../var/lake")), Path::new("var/lake"));
        assert_eq!(normalize(Path::new("pipelines/../../shared/x.csv")), Path::new("../shared/x.csv"));
        assert_eq!(normalize(Path::new("./a/./b/..")), Path::new("a"));
        assert_eq!(normalize(Path::new("/../a")), Path::new("/a"));
        assert_eq!(normalize(Path::new("a/..")), Path::new("."));
    }

    #[test]
    fn urls_are_kept_as_given() {
        let text = MINIMAL.replace("url = \"out\"", "url = \"s3://bucket/exhibits\"");
        let p = Pipeline::parse(Path::new("/jobs/t.toml"), &text).unwrap();
        assert_eq!(p.publish.url, "s3://bucket/exhibits");
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let text = MINIMAL.replace("index_id = \"R2000\"", "index_id = \"R2000\"\nindx = 1");
        let err = Pipeline::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("unknown field `indx`"), "{err}");
        assert!(err.contains("line 13"), "{err}");
    }

    #[test]
    fn yahoo_source_without_index_id_is_an_error() {
        let text = MINIMAL.replace("index_id = \"R2000\"\n", "");
        let err = Pipeline::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("needs index_id"), "{err}");
    }

    #[test]
    fn reversed_period_is_an_error() {
        let text = MINIMAL.replace("end = 2023-10-31", "end = 2023-01-31");
        let err = Pipeline::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("ends before it starts"), "{err}");
    }
}
