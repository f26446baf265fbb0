//! The DataFusion session the models run in, and running them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::context::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use exhibits_core::calendar::epoch_days;
use exhibits_core::pipeline::{ParamValue, Period};

use crate::model::line_of;
use crate::{Project, SqlError};

/// The materialised result of each model, in run order, and the data tests that failed.
#[derive(Debug, Default)]
pub struct Build {
    pub tables: Vec<(String, SchemaRef, Vec<RecordBatch>)>,
    pub failed_tests: Vec<TestFailure>,
}

/// A data test that returned rows.
#[derive(Debug, Clone)]
pub struct TestFailure {
    pub test: String,
    pub file: PathBuf,
    /// The models it guards: withheld from publishing.
    pub guards: Vec<String>,
    pub rows: usize,
    /// The first offending rows, as a table.
    pub sample: String,
}

/// What planning one model (or data test) without data found.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub file: PathBuf,
    /// The output schema, or the problem (with its line where one can be found).
    pub outcome: Result<SchemaRef, String>,
}

/// Rows shown when a data test fails.
const SAMPLE_ROWS: usize = 10;

/// Points a planning error at a line: DataFusion names the unknown column but not where it is.
fn locate(sql: &str, message: &str) -> String {
    let token = message
        .split("No field named ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .map(|t| t.trim_end_matches(['.', ',']).trim_matches('"'));
    match token {
        Some(t) if !t.is_empty() => format!("line {}: {message}", line_of(sql, t)),
        _ => message.to_string(),
    }
}

impl Build {
    /// The schema and batches of model `name`.
    pub fn get(&self, name: &str) -> Option<(&SchemaRef, &[RecordBatch])> {
        self.tables.iter().find(|(n, _, _)| n == name).map(|(_, s, b)| (s, b.as_slice()))
    }

    /// Rows of model `name`.
    pub fn rows(&self, name: &str) -> Option<usize> {
        self.get(name).map(|(_, b)| b.iter().map(RecordBatch::num_rows).sum())
    }
}

/// A DataFusion session with the `lake` and `config` schemas the models read.
pub struct ModelSession {
    ctx: SessionContext,
}

impl Default for ModelSession {
    fn default() -> Self {
        Self::new()
    }
}

fn session_err(e: datafusion::error::DataFusionError) -> SqlError {
    SqlError::Session(e.strip_backtrace())
}

/// Makes a model's batches agree with its planned schema. DataFusion 55 can plan a column as
/// `Utf8` and produce `Utf8View` (e.g. `concat` inside `case`), or plan `coalesce(x, 'lit')` as
/// not null while the output field says nullable; a `MemTable` refuses such a mismatch. Columns
/// are cast to the planned type, and a field is nullable when either side says so.
pub(crate) fn conform(
    planned: SchemaRef,
    batches: Vec<RecordBatch>,
) -> datafusion::error::Result<(SchemaRef, Vec<RecordBatch>)> {
    if batches.iter().all(|b| b.schema().fields() == planned.fields()) {
        return Ok((planned, batches));
    }
    let fields: Vec<Field> = planned
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let nullable = f.is_nullable() || batches.iter().any(|b| b.schema().field(i).is_nullable());
            f.as_ref().clone().with_nullable(nullable)
        })
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, planned.metadata().clone()));
    let batches = batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    Ok((schema, batches))
}

impl ModelSession {
    pub fn new() -> ModelSession {
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = crate::session_context(config);
        ctx.register_udaf(crate::udf::product());
        ctx.register_udaf(crate::udf::fsum());
        ctx.register_udwf(crate::udf::turning_points());
        let catalog = ctx.catalog("datafusion").expect("the default catalog exists");
        for schema in ["lake", "config"] {
            catalog.register_schema(schema, Arc::new(MemorySchemaProvider::new())).expect("schemas can be registered");
        }
        ModelSession { ctx }
    }

    /// The session state, for parsing models.
    pub fn state(&self) -> SessionState {
        self.ctx.state()
    }

    /// The underlying context (for ad-hoc queries in tests and tools).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers (or replaces) `lake.<name>`: every Parquet file under `dir`, with `schema`.
    pub fn register_lake_table(&self, name: &str, dir: &Path, schema: SchemaRef) -> Result<(), SqlError> {
        std::fs::create_dir_all(dir).map_err(|source| SqlError::Read { path: dir.to_owned(), source })?;
        let url = ListingTableUrl::parse(format!("{}/", dir.display())).map_err(session_err)?;
        let options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(schema);
        let table = ListingTable::try_new(config).map_err(session_err)?;
        // Replaces the schema-only table registered for planning, if any.
        self.ctx.deregister_table(TableReference::partial("lake", name)).map_err(session_err)?;
        self.ctx.register_table(TableReference::partial("lake", name), Arc::new(table)).map_err(session_err)?;
        Ok(())
    }

    /// Registers `lake.<name>` as an empty table with `schema`: for planning without data.
    pub fn register_lake_schema(&self, name: &str, schema: SchemaRef) -> Result<(), SqlError> {
        self.ctx
            .register_table(TableReference::partial("lake", name), Arc::new(EmptyTable::new(schema)))
            .map_err(session_err)?;
        Ok(())
    }

    /// Registers `config.params`: one row with `as_of` and every pipeline parameter, typed.
    pub fn register_params(&self, as_of: NaiveDate, params: &[(String, ParamValue)]) -> Result<(), SqlError> {
        let mut fields = vec![Field::new("as_of", DataType::Date32, false)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(Date32Array::from(vec![epoch_days(as_of)]))];
        for (name, value) in params {
            let (dt, col): (DataType, ArrayRef) = match value {
                ParamValue::Text(s) => (DataType::Utf8, Arc::new(StringArray::from(vec![s.as_str()]))),
                ParamValue::Int(i) => (DataType::Int64, Arc::new(Int64Array::from(vec![*i]))),
                ParamValue::Float(f) => (DataType::Float64, Arc::new(Float64Array::from(vec![*f]))),
                ParamValue::Bool(b) => (DataType::Boolean, Arc::new(BooleanArray::from(vec![*b]))),
                ParamValue::Date(d) => (DataType::Date32, Arc::new(Date32Array::from(vec![epoch_days(*d)]))),
            };
            fields.push(Field::new(name, dt, false));
            columns.push(col);
        }
        self.register_config(
            "params",
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
                .map_err(|e| SqlError::Session(e.to_string()))?,
        )
    }

    /// Registers `config.periods`: `period_no, label, start_date, end_date`.
    pub fn register_periods(&self, periods: &[Period]) -> Result<(), SqlError> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("period_no", DataType::Int64, false),
            Field::new("label", DataType::Utf8, false),
            Field::new("start_date", DataType::Date32, false),
            Field::new("end_date", DataType::Date32, false),
        ]));
        let labels: Vec<String> =
            periods.iter().map(|p| p.label.clone().unwrap_or_else(|| format!("{} → {}", p.start, p.end))).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(1..=periods.len() as i64)),
                Arc::new(StringArray::from_iter_values(labels.iter())),
                Arc::new(Date32Array::from_iter_values(periods.iter().map(|p| epoch_days(p.start)))),
                Arc::new(Date32Array::from_iter_values(periods.iter().map(|p| epoch_days(p.end)))),
            ],
        )
        .map_err(|e| SqlError::Session(e.to_string()))?;
        self.register_config("periods", batch)
    }

    /// Registers `config.rebalance_dates`: `rebalance_date`, the equal-weight engine's trading
    /// days on whose close weights are set (empty without a `[rebalance]` section).
    pub fn register_rebalances(&self, dates: &[NaiveDate]) -> Result<(), SqlError> {
        let schema = Arc::new(Schema::new(vec![Field::new("rebalance_date", DataType::Date32, false)]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(Date32Array::from_iter_values(dates.iter().map(|d| epoch_days(*d))))],
        )
        .map_err(|e| SqlError::Session(e.to_string()))?;
        self.register_config("rebalance_dates", batch)
    }

    fn register_config(&self, name: &str, batch: RecordBatch) -> Result<(), SqlError> {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(session_err)?;
        self.ctx.register_table(TableReference::partial("config", name), Arc::new(table)).map_err(session_err)?;
        Ok(())
    }

    /// Plans every model of `project` in order without reading any data (each model's output
    /// schema stands in for it downstream), then every data test.
    pub async fn plan(&self, project: &Project) -> Vec<Planned> {
        let mut out: Vec<Planned> = Vec::new();
        let state = self.ctx.state();
        for model in &project.models {
            let failed_input =
                model.depends_on.iter().find(|d| out.iter().any(|p| p.name == **d && p.outcome.is_err()));
            let outcome = match failed_input {
                Some(d) => Err(format!("not planned: it reads {d}, which failed")),
                None => match state.create_logical_plan(&model.sql).await {
                    Ok(plan) => {
                        let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
                        let _ = self.ctx.deregister_table(model.name.as_str());
                        match self.ctx.register_table(model.name.as_str(), Arc::new(EmptyTable::new(schema.clone()))) {
                            Ok(_) => Ok(schema),
                            Err(e) => Err(e.strip_backtrace()),
                        }
                    }
                    Err(e) => Err(locate(&model.sql, &e.strip_backtrace())),
                },
            };
            out.push(Planned { name: model.name.clone(), file: model.file.clone(), outcome });
        }
        for test in &project.tests {
            let failed_input = test.guards.iter().find(|g| out.iter().any(|p| p.name == **g && p.outcome.is_err()));
            let outcome = match failed_input {
                Some(g) => Err(format!("not planned: it reads {g}, which failed")),
                None => match state.create_logical_plan(&test.sql).await {
                    Ok(plan) => Ok(Arc::new(plan.schema().as_arrow().clone())),
                    Err(e) => Err(locate(&test.sql, &e.strip_backtrace())),
                },
            };
            out.push(Planned { name: format!("{} (data test)", test.name), file: test.file.clone(), outcome });
        }
        out
    }

    /// Runs every model of `project` in order, materialising each one as table `<name>`, then
    /// every data test. `only`: run just these models (they must include what they read).
    pub async fn build(&self, project: &Project, only: Option<&BTreeSet<String>>) -> Result<Build, SqlError> {
        let mut build = Build::default();
        for model in project.models.iter().filter(|m| only.is_none_or(|o| o.contains(&m.name))) {
            let fail = |e: datafusion::error::DataFusionError| SqlError::Plan {
                model: model.name.clone(),
                file: model.file.clone(),
                message: e.strip_backtrace(),
            };
            let started = std::time::Instant::now();
            let df = self.ctx.sql(&model.sql).await.map_err(fail)?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(fail)?;
            let (schema, batches) = conform(schema, batches).map_err(fail)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            tracing::info!(model = %model.name, rows, ms = started.elapsed().as_millis() as u64, "model built");
            let table = MemTable::try_new(schema.clone(), vec![batches.clone()]).map_err(fail)?;
            self.ctx.deregister_table(model.name.as_str()).map_err(fail)?;
            self.ctx.register_table(model.name.as_str(), Arc::new(table)).map_err(fail)?;
            build.tables.push((model.name.clone(), schema, batches));
        }
        let built: BTreeSet<String> = build.tables.iter().map(|(n, _, _)| n.clone()).collect();
        for test in project.tests.iter().filter(|t| t.guards.iter().all(|g| built.contains(g))) {
            let fail = |e: datafusion::error::DataFusionError| SqlError::Plan {
                model: format!("{} (data test)", test.name),
                file: test.file.clone(),
                message: e.strip_backtrace(),
            };
            let batches = self.ctx.sql(&test.sql).await.map_err(fail)?.collect().await.map_err(fail)?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            if rows > 0 {
                let mut shown = Vec::new();
                let mut left = SAMPLE_ROWS;
                for b in &batches {
                    let take = left.min(b.num_rows());
                    shown.push(b.slice(0, take));
                    left -= take;
                }
                let sample = pretty_format_batches(&shown).map(|t| t.to_string()).unwrap_or_default();
                build.failed_tests.push(TestFailure {
                    test: test.name.clone(),
                    file: test.file.clone(),
                    guards: test.guards.clone(),
                    rows,
                    sample,
                });
            }
        }
        Ok(build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pairs(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let table = pretty_format_batches(&batches).unwrap().to_string();
        table
            .lines()
            .filter(|l| l.starts_with("| ") && !l.contains(" ek "))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// A canary for a wrong-results bug of the DataFusion version in Cargo.lock: an inner join
    /// after a cross join loses one of two ON conditions when that one reads the cross-joined
    /// table. rolling_extremes.sql computes such a key in a CTE first. When this test fails
    /// after a DataFusion upgrade, the bug is fixed: drop the workaround and this test.
    #[tokio::test]
    async fn datafusion_55_drops_a_join_condition_that_reads_a_cross_joined_table() {
        let ctx = SessionContext::new();
        ctx.sql("create table t (g varchar, k bigint) as values ('x', 1), ('x', 2), ('x', 3), ('x', 4)").await.unwrap();
        ctx.sql("create table p (n bigint) as values (2)").await.unwrap();
        let buggy = "select e.k as ek, s.k as sk from t as e cross join p join t as s on s.g = e.g and s.k = e.k - p.n order by ek, sk";
        let workaround = "select e.k as ek, s.k as sk from (select t.*, t.k - p.n as start_k from t cross join p) as e \
                          join t as s on s.g = e.g and s.k = e.start_k order by ek, sk";
        assert_eq!(pairs(&ctx, workaround).await, ["| 3 | 1 |", "| 4 | 2 |"]);
        assert_eq!(pairs(&ctx, buggy).await.len(), 16, "every pair: the k condition was dropped (the bug)");
    }
}
