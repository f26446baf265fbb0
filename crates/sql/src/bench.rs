//! The benchmark workload of `../shared/bench/WORKLOAD.md` (steps `compute` and `report`) run
//! by this engine, executed in a fixed order, each writing the output the workload's
//! `compare.py` and `verify_ref.py` read.
//!
//! `compute` is the product's own equal-weight engine: the models `security_returns`,
//! `rebalance_members` and `constituent_index` of `sql/`, over the bench's Parquet presented as
//! `constituents` by `pipelines/bench/constituents.sql`, with the workload's rebalance calendar
//! (`pipelines/bench/rebalance_dates.sql`); `returns` and `index_returns` only rename their
//! results into the workload's layout. `report` is `pipelines/bench/`'s own models.
//!
//! A model's result is either a view or kept in memory for the models after it, or written as
//! zstd Parquet: one file (`OUT/<name>.parquet`) or Hive partitions by `year`
//! (`OUT/returns/year=YYYY/…`, the key in the path only).

use std::path::Path;

use datafusion::config::TableParquetOptions;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

use crate::SqlError;

/// Where a model's result goes.
#[derive(Clone, Copy)]
enum Output {
    /// A view of that name (computed where it is read).
    View,
    /// Kept in memory as a table of that name for the models after it.
    Memory,
    /// `OUT/<name>.parquet`.
    File,
    /// `OUT/<name>/year=YYYY/*.parquet`, from the result's `year` column.
    ByYear,
}

/// Where a model's SQL file is.
#[derive(Clone, Copy)]
enum Model {
    /// `<bench models>/<name>.sql`
    Bench,
    /// `<engine models>/<path>`, the product's `sql/`
    Engine(&'static str),
}

/// The models of each step, in order: table name, file, output.
const COMPUTE: &[(&str, Model, Output)] = &[
    ("constituents", Model::Bench, Output::View),
    ("holdings", Model::Bench, Output::View),
    ("config.rebalance_dates", Model::Bench, Output::Memory),
    ("security_returns", Model::Engine("intermediate/security_returns.sql"), Output::Memory),
    ("rebalance_members", Model::Engine("intermediate/rebalance_members.sql"), Output::Memory),
    ("constituent_index", Model::Engine("exhibits/constituent_index.sql"), Output::View),
    ("returns", Model::Bench, Output::ByYear),
    ("index_returns", Model::Bench, Output::File),
];
const REPORT: &[(&str, Model, Output)] = &[
    ("periods", Model::Bench, Output::Memory),
    ("period_index", Model::Bench, Output::File),
    ("period_sec", Model::Bench, Output::File),
    ("top_moves", Model::Bench, Output::File),
];

/// A step's outputs and their row counts.
pub type Rows = Vec<(String, usize)>;

fn session() -> SessionContext {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // DATAFUSION_* variables (e.g. DATAFUSION_EXECUTION_BATCH_SIZE) override the defaults, for
    // the experiments in docs/performance.md.
    let config = SessionConfig::from_env().unwrap_or_else(|_| SessionConfig::new()).with_target_partitions(threads);
    let ctx = crate::session_context(config);
    ctx.register_udaf(crate::udf::product());
    ctx.register_udaf(crate::udf::fsum());
    let catalog = ctx.catalog("datafusion").expect("the default catalog exists");
    catalog
        .register_schema("config", std::sync::Arc::new(datafusion::catalog::MemorySchemaProvider::new()))
        .expect("schemas can be registered");
    ctx
}

fn err(model: &str, models: &Path) -> impl Fn(datafusion::error::DataFusionError) -> SqlError + use<> {
    let (model, file) = (model.to_string(), models.join(format!("{model}.sql")));
    move |e| SqlError::Plan { model: model.clone(), file: file.clone(), message: e.strip_backtrace() }
}

/// The model folders: the bench's own (`pipelines/bench`) and the product's (`sql`).
pub struct Models<'a> {
    pub bench: &'a Path,
    pub engine: &'a Path,
}

async fn run(
    ctx: &SessionContext,
    dirs: &Models<'_>,
    out: &Path,
    plan: &[(&str, Model, Output)],
) -> Result<Rows, SqlError> {
    let mut rows = Vec::new();
    for &(name, model, output) in plan {
        let file = match model {
            Model::Bench => dirs.bench.join(format!("{}.sql", name.trim_start_matches("config."))),
            Model::Engine(path) => dirs.engine.join(path),
        };
        let models = file.parent().unwrap_or(dirs.bench);
        let sql = std::fs::read_to_string(&file).map_err(|source| SqlError::Read { path: file.clone(), source })?;
        if std::env::var_os("EXHIBITS_EXPLAIN").is_some() {
            // Profiling aid (docs/performance.md): the plan with per-operator metrics, on stderr.
            let explained = ctx.sql(&format!("explain analyze {sql}")).await.map_err(err(name, models))?;
            let batches = explained.collect().await.map_err(err(name, models))?;
            let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .map_err(|e| err(name, models)(e.into()))?;
            eprintln!("== {name}\n{text}");
        }
        let df = ctx.sql(&sql).await.map_err(err(name, models))?;
        let mut parquet = TableParquetOptions::default();
        parquet.global.compression = Some("zstd(1)".into());
        let written = match output {
            Output::View => {
                ctx.register_table(name, df.into_view()).map_err(err(name, models))?;
                0
            }
            Output::Memory => {
                let table = df.cache().await.map_err(err(name, models))?;
                let n = table.clone().count().await.map_err(err(name, models))?;
                ctx.register_table(name, table.into_view()).map_err(err(name, models))?;
                n
            }
            Output::File => {
                let path = out.join(format!("{name}.parquet"));
                let _ = std::fs::remove_file(&path);
                let options = DataFrameWriteOptions::new().with_single_file_output(true);
                count(
                    df.write_parquet(&path.to_string_lossy(), options, Some(parquet))
                        .await
                        .map_err(err(name, models))?,
                )
            }
            Output::ByYear => {
                let dir = out.join(name);
                let _ = std::fs::remove_dir_all(&dir);
                let options = DataFrameWriteOptions::new().with_partition_by(vec!["year".into()]);
                count(
                    df.write_parquet(&format!("{}/", dir.display()), options, Some(parquet))
                        .await
                        .map_err(err(name, models))?,
                )
            }
        };
        tracing::info!(model = name, rows = written, "built");
        rows.push((name.to_string(), written));
    }
    Ok(rows)
}

/// The row count a write reports.
fn count(batches: Vec<datafusion::arrow::array::RecordBatch>) -> usize {
    batches
        .first()
        .and_then(|b| b.column(0).as_any().downcast_ref::<datafusion::arrow::array::UInt64Array>().map(|c| c.value(0)))
        .unwrap_or_default() as usize
}

/// `compute`: daily returns per security and cap-, equal- and sector-equal-weighted index
/// returns, from `OUT/parquet` (written by the ingest step).
pub async fn compute(models: &Models<'_>, out: &Path) -> Result<Rows, SqlError> {
    let ctx = session();
    let prices = out.join("parquet");
    ctx.register_parquet("prices", &format!("{}/", prices.display()), ParquetReadOptions::default())
        .await
        .map_err(err("constituents", models.bench))?;
    run(&ctx, models, out, COMPUTE).await
}

/// `report`: period returns per index and per security and the largest daily moves, from the
/// outputs of `compute`.
pub async fn report(models: &Models<'_>, out: &Path) -> Result<Rows, SqlError> {
    let ctx = session();
    let returns = format!("{}/", out.join("returns").display());
    ctx.register_parquet("returns", &returns, ParquetReadOptions::default())
        .await
        .map_err(err("periods", models.bench))?;
    let index_returns = out.join("index_returns.parquet");
    ctx.register_parquet("index_returns", &index_returns.to_string_lossy(), ParquetReadOptions::default())
        .await
        .map_err(err("period_index", models.bench))?;
    run(&ctx, models, out, REPORT).await
}
