//! `exhibits bench DATA OUT --step ingest|compute|report|all`: the benchmark workload of
//! `../shared/bench/WORKLOAD.md` with this engine, writing the layout its `compare.py` and
//! `verify_ref.py` read, so `run_bench.py` can time it beside DuckDB, polars and pandas.
//!
//! - ingest: `DATA/constituents_*.csv` → `OUT/parquet/year=YYYY/part-0.parquet` (zstd), and
//!   `DATA/treasury_10y.csv` → `OUT/treasury_10y.parquet` (exhibits-ingest);
//! - compute: the product's equal-weight engine (`sql/`), report: the SQL models in
//!   `pipelines/bench/` (exhibits-sql's bench driver).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use exhibits_core::ExitStatus;
use serde_json::json;

use crate::failure::Failure;

#[derive(Clone, Copy, PartialEq, ValueEnum)]
pub(crate) enum Step {
    Ingest,
    Compute,
    Report,
    All,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Ingest => "ingest",
            Step::Compute => "compute",
            Step::Report => "report",
            Step::All => "all",
        }
    }
}

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// The drop: constituents_YYYY.csv and treasury_10y.csv (from `exhibits gen` or gen.py).
    data: PathBuf,
    /// Output folder, in the workload's layout.
    out: PathBuf,
    #[arg(long, value_enum, default_value = "all")]
    step: Step,
    /// Folder of the workload's SQL models.
    #[arg(long, default_value = "pipelines/bench", env = "EXHIBITS_BENCH_MODELS")]
    models: PathBuf,
    /// Folder of the product's models, whose equal-weight engine computes the indexes.
    #[arg(long, default_value = "sql", env = "EXHIBITS_MODELS")]
    engine_models: PathBuf,
}

pub(crate) async fn run(args: BenchArgs) -> Result<serde_json::Value, Failure> {
    let mut summary = json!({ "peer": "exhibits", "data_dir": args.data.display().to_string() });
    let models = exhibits_sql::bench::Models { bench: &args.models, engine: &args.engine_models };
    for step in [Step::Ingest, Step::Compute, Step::Report] {
        if args.step != step && args.step != Step::All {
            continue;
        }
        let started = std::time::Instant::now();
        let rows = match step {
            Step::Ingest => json!({ "rows": ingest(&args)? }),
            Step::Compute => rows(exhibits_sql::bench::compute(&models, &args.out).await?),
            _ => rows(exhibits_sql::bench::report(&models, &args.out).await?),
        };
        let name = step.name();
        tracing::info!(step = name, seconds = started.elapsed().as_secs_f64(), "done");
        summary["step"] = name.into();
        summary[name] = rows;
    }
    Ok(summary)
}

fn rows(built: exhibits_sql::bench::Rows) -> serde_json::Value {
    built.into_iter().map(|(name, n)| (name, json!(n))).collect::<serde_json::Map<_, _>>().into()
}

fn ingest(args: &BenchArgs) -> Result<u64, Failure> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args.data)
        .map_err(|e| Failure::new(ExitStatus::NotReady, anyhow::anyhow!("{}: {e}", args.data.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("constituents_") && n.ends_with(".csv"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        let what = anyhow::anyhow!("{}: no constituents_YYYY.csv files", args.data.display());
        return Err(Failure::new(ExitStatus::NotReady, what));
    }
    let parquet = args.out.join("parquet");
    let _ = std::fs::remove_dir_all(&parquet);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rows = exhibits_ingest::constituents_to_parquet(&files, &parquet, threads)?;
    let yields = args.data.join("treasury_10y.csv");
    exhibits_ingest::csv_to_parquet(
        &yields,
        "date,yield_pct",
        exhibits_ingest::treasury_schema(),
        &args.out.join("treasury_10y.parquet"),
        |_| Ok(()),
    )?;
    Ok(rows)
}
