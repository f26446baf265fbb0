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
    /// The project's long constituents CSV (`exhibits gen`, `../shared/bench/gen.py`):
    /// `date,security_id,ticker,sector,index_code,shares,close,dividend`.
    CanonicalConstituents,
    /// A wide price matrix `Date,<ticker>,<ticker>,…` of one index's members (blank = no price).
    WidePriceMatrix,
    /// An iShares "Detailed Holdings and Analytics" download: a membership, sector and shares
    /// snapshot of the fund's index.
    IsharesHoldings,
    /// A FRED series download: `DATE,<SERIES>` (legacy, `.` for no observation) or
    /// `observation_date,<SERIES>` (current, an empty cell), in percent.
    Fred,
    /// FTSE Russell's "Daily Values" file (`daily_values_russell_YYMMDD.CSV`): the closing price
    /// level of every Russell US index on the file's "As of" date; UTF-8 or Windows-1252.
    FtseDailyValues,
    /// The US Treasury Daily Par Yield Curve CSV: `Date,"1 Mo",…,"10 Yr",…` (ISO or MM/DD/YYYY
    /// dates, newest first, tenor columns varying by year); `column` picks the tenor
    /// (default `10 Yr`).
    TreasuryParCurve,
    /// Told from the first file's content when it is read, where only one format fits (a
    /// Yahoo-style `Date,Close` could be an index or a yield index: an error asks to name it).
    Auto,
}

impl SourceFormat {
    /// The name as written in a pipeline file.
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::CanonicalIndexLevels => "canonical_index_levels",
            SourceFormat::YahooClose => "yahoo_close",
            SourceFormat::CanonicalYields => "canonical_yields",
            SourceFormat::YahooYield => "yahoo_yield",
            SourceFormat::CanonicalConstituents => "canonical_constituents",
            SourceFormat::WidePriceMatrix => "wide_price_matrix",
            SourceFormat::IsharesHoldings => "ishares_holdings",
            SourceFormat::Fred => "fred",
            SourceFormat::FtseDailyValues => "ftse_daily_values",
            SourceFormat::TreasuryParCurve => "treasury_par_curve",
            SourceFormat::Auto => "auto",
        }
    }

    /// The lake table this format lands in.
    pub fn table(self) -> &'static str {
        match self {
            SourceFormat::CanonicalIndexLevels | SourceFormat::YahooClose | SourceFormat::FtseDailyValues => {
                "index_levels"
            }
            SourceFormat::CanonicalYields
            | SourceFormat::YahooYield
            | SourceFormat::Fred
            | SourceFormat::TreasuryParCurve => "yields",
            SourceFormat::CanonicalConstituents | SourceFormat::WidePriceMatrix => "constituents",
            SourceFormat::IsharesHoldings => "holdings",
            SourceFormat::Auto => "(told from the file)",
        }
    }
}

/// What a bad file of a source does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBadFile {
    #[default]
    Fail,
    Skip,
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
    /// For a multi-column file (the Treasury par curve): the column to read (default `10 Yr`).
    pub column: Option<String>,
    /// Whether the file must reach the last trading day on or before the as-of date for the
    /// run to proceed (exit 99 otherwise). Defaults to true for index levels, false for yields
    /// (bond and equity holidays differ), true for constituent prices, false for holdings
    /// snapshots.
    pub require_as_of: Option<bool>,
    /// The file's character encoding, as a WHATWG label (`utf-8`, `windows-1252`, `latin1`,
    /// `utf-16le`, …). Unset: UTF-8 when the file is valid UTF-8, else Windows-1252 (Latin-1's
    /// superset, what spreadsheet exports and vendor FTP drops write). A byte-order mark wins.
    pub encoding: Option<String>,
    /// What a bad file of this source (unknown layout, not text, empty, …) does to the run:
    /// `fail` (default: the other files are still ingested, nothing is built or published, exit
    /// 1) or `skip` (logged and listed in the summary; the run goes on without it).
    #[serde(default)]
    pub on_bad_file: OnBadFile,
    /// Set by the run, not the pipeline file: rows dated after this day (the run's as-of date)
    /// are quarantined at ingest. Holdings snapshots are exempt: a later snapshot's sectors
    /// classify earlier baskets (rebalance_members says so in `sector_source`).
    #[serde(skip)]
    pub until: Option<NaiveDate>,
}

impl Source {
    /// A source of `format` read from `path`, with no ids or options set.
    pub fn new(name: &str, format: SourceFormat, path: impl Into<PathBuf>) -> Source {
        Source {
            name: name.into(),
            format,
            path: path.into(),
            index_id: None,
            basis: None,
            series_id: None,
            require_as_of: None,
            column: None,
            encoding: None,
            on_bad_file: OnBadFile::Fail,
            until: None,
        }
    }

    /// The encoding the source declares (`encoding = "…"`), if any; validated when loaded.
    pub fn declared_encoding(&self) -> Option<&'static encoding_rs::Encoding> {
        self.encoding.as_deref().and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()))
    }

    /// What the source lacks for its format (`index_id` for a single-index file, `series_id` for a
    /// yield file), as an error message; None when nothing is missing.
    pub fn missing_id(&self) -> Option<String> {
        match self.format {
            SourceFormat::YahooClose | SourceFormat::WidePriceMatrix | SourceFormat::IsharesHoldings
                if self.index_id.is_none() =>
            {
                Some(format!(
                    "source {:?} (format {}) needs index_id = \"…\" (the index its rows belong to)",
                    self.name,
                    self.format.name()
                ))
            }
            SourceFormat::CanonicalYields
            | SourceFormat::YahooYield
            | SourceFormat::Fred
            | SourceFormat::TreasuryParCurve
                if self.series_id.is_none() =>
            {
                Some(format!("source {:?} (a yield format, {}) needs series_id = \"…\"", self.name, self.format.name()))
            }
            _ => None,
        }
    }

    /// Whether this source must cover the as-of trading day.
    pub fn requires_as_of(&self) -> bool {
        self.requires_as_of_in(self.format.table())
    }

    /// Whether this source, its rows landing in lake table `table`, must cover the as-of
    /// trading day (for `format = "auto"`, the table of the format told from the file).
    pub fn requires_as_of_in(&self, table: &str) -> bool {
        self.require_as_of.unwrap_or(matches!(table, "index_levels" | "constituents"))
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

/// How the equal-weight engine picks its rebalance dates (`[rebalance]`), as table
/// `config.rebalance_dates`. Weights are set at the close of each date.
///
/// ```toml
/// [rebalance]
/// schedule = "third_friday"   # or "first_trading_day" (of the month), or "dates"
/// months = [3, 6, 9, 12]      # for the two monthly rules (default: quarterly, as shown)
/// dates = [2024-06-28]        # for schedule = "dates"
/// ```
///
/// A date that is not a trading day rolls to the previous one (the third Friday on a holiday:
/// the Thursday); the first trading day of a month rolls forward.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rebalance {
    pub schedule: Schedule,
    #[serde(default)]
    pub months: Option<Vec<u32>>,
    #[serde(default, deserialize_with = "de_dates")]
    pub dates: Vec<NaiveDate>,
}

/// The rule of a rebalance calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    FirstTradingDay,
    ThirdFriday,
    Dates,
}

impl Rebalance {
    /// The rebalance trading days from 1970 up to and including `until`.
    pub fn trading_dates(&self, until: NaiveDate) -> Vec<NaiveDate> {
        use crate::calendar::{is_trading_day, last_trading_day_on_or_before};
        use chrono::Datelike;
        let months = self.months.clone().unwrap_or_else(|| match self.schedule {
            Schedule::FirstTradingDay => vec![1, 4, 7, 10],
            _ => vec![3, 6, 9, 12],
        });
        let mut out: Vec<NaiveDate> = match self.schedule {
            Schedule::Dates => self.dates.iter().map(|d| last_trading_day_on_or_before(*d)).collect(),
            _ => (1970..=until.year())
                .flat_map(|y| months.iter().map(move |m| (y, *m)))
                .filter_map(|(y, m)| match self.schedule {
                    Schedule::FirstTradingDay => {
                        let first = NaiveDate::from_ymd_opt(y, m, 1)?;
                        first.iter_days().find(|d| is_trading_day(*d))
                    }
                    _ => NaiveDate::from_weekday_of_month_opt(y, m, chrono::Weekday::Fri, 3)
                        .map(last_trading_day_on_or_before),
                })
                .collect(),
        };
        out.retain(|d| *d <= until);
        out.sort();
        out.dedup();
        out
    }
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
    #[serde(default)]
    rebalance: Option<Rebalance>,
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
    /// The equal-weight engine's rebalance calendar; none: the engine computes nothing.
    pub rebalance: Option<Rebalance>,
}

fn de_dates<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    struct One(#[serde(deserialize_with = "de_date")] NaiveDate);
    Ok(Vec::<One>::deserialize(d)?.into_iter().map(|o| o.0).collect())
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
            if let Some(what) = s.missing_id() {
                return Err(invalid(what));
            }
            if let Some(label) = s.encoding.as_deref().filter(|_| s.declared_encoding().is_none()) {
                return Err(invalid(format!(
                    "source {:?}: unknown encoding {label:?}; use a label such as utf-8, windows-1252 or latin1",
                    s.name
                )));
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
        if let Some(r) = &raw.rebalance {
            match r.schedule {
                Schedule::Dates if r.dates.is_empty() || r.months.is_some() => {
                    return Err(invalid("[rebalance] schedule = \"dates\" needs dates = [...] and no months".into()));
                }
                Schedule::FirstTradingDay | Schedule::ThirdFriday if !r.dates.is_empty() => {
                    return Err(invalid("[rebalance] dates = [...] goes with schedule = \"dates\"".into()));
                }
                _ => {}
            }
            if let Some(m) = r.months.as_ref().and_then(|ms| ms.iter().find(|m| !(1..=12).contains(*m))) {
                return Err(invalid(format!("[rebalance] months must be 1..12, found {m}")));
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
            rebalance: raw.rebalance,
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
    fn encodings_are_whatwg_labels_and_bad_files_fail_unless_skipped() {
        let with = |extra: &str| {
            Pipeline::parse(
                Path::new("t.toml"),
                &MINIMAL.replace("index_id = \"R2000\"", &format!("index_id = \"R2000\"\n{extra}")),
            )
        };
        let p = with("encoding = \"latin1\"\non_bad_file = \"skip\"").unwrap();
        assert_eq!(p.sources[0].declared_encoding(), Some(encoding_rs::WINDOWS_1252));
        assert_eq!(p.sources[0].on_bad_file, OnBadFile::Skip);
        assert_eq!(with("").unwrap().sources[0].on_bad_file, OnBadFile::Fail);
        let err = with("encoding = \"klingon\"").unwrap_err().to_string();
        assert!(
            err.contains("unknown encoding \"klingon\"; use a label such as utf-8, windows-1252 or latin1"),
            "{err}"
        );
    }

    #[test]
    fn yahoo_source_without_index_id_is_an_error() {
        let text = MINIMAL.replace("index_id = \"R2000\"\n", "");
        let err = Pipeline::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("needs index_id"), "{err}");
    }

    #[test]
    fn rebalance_calendars_roll_to_trading_days() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let cal = |toml: &str| {
            let p = Pipeline::parse(Path::new("t.toml"), &format!("{MINIMAL}[rebalance]\n{toml}")).unwrap();
            p.rebalance
                .unwrap()
                .trading_dates(d("2024-12-31"))
                .into_iter()
                .filter(|x| x.year() == 2024)
                .collect::<Vec<_>>()
        };
        use chrono::Datelike;
        // 2024: 1 January and 4 July are holidays; 21 June is the third Friday of June.
        assert_eq!(
            cal("schedule = \"first_trading_day\""),
            vec![d("2024-01-02"), d("2024-04-01"), d("2024-07-01"), d("2024-10-01")]
        );
        assert_eq!(
            cal("schedule = \"third_friday\""),
            vec![d("2024-03-15"), d("2024-06-21"), d("2024-09-20"), d("2024-12-20")]
        );
        // A holiday rolls back: 2024-07-04 → 2024-07-03; a weekend to the Friday.
        assert_eq!(
            cal("schedule = \"dates\"\ndates = [2024-07-04, 2024-06-30]"),
            vec![d("2024-06-28"), d("2024-07-03")]
        );
        let err = Pipeline::parse(Path::new("t.toml"), &format!("{MINIMAL}[rebalance]\nschedule = \"dates\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs dates"), "{err}");
    }

    #[test]
    fn reversed_period_is_an_error() {
        let text = MINIMAL.replace("end = 2023-10-31", "end = 2023-01-31");
        let err = Pipeline::parse(Path::new("t.toml"), &text).unwrap_err().to_string();
        assert!(err.contains("ends before it starts"), "{err}");
    }
}
