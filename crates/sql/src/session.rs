//! The DataFusion session the models run in, and running them.

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::context::SessionState;
use datafusion::prelude::{SessionConfig, SessionContext};
use exhibits_core::pipeline::{ParamValue, Period};

use crate::{Project, SqlError};

/// The materialised result of each model, in run order.
#[derive(Debug, Default)]
pub struct Build {
    pub tables: Vec<(String, SchemaRef, Vec<RecordBatch>)>,
}

impl Build {
    /// The schema and batches of model `name`.
    pub fn get(&self, name: &str) -> Option<(&SchemaRef, &[RecordBatch])> {
        self.tables
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, b)| (s, b.as_slice()))
    }

    /// Rows of model `name`.
    pub fn rows(&self, name: &str) -> Option<usize> {
        self.get(name)
            .map(|(_, b)| b.iter().map(RecordBatch::num_rows).sum())
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

fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

impl ModelSession {
    pub fn new() -> ModelSession {
        let config = SessionConfig::new().with_information_schema(true);
        let ctx = SessionContext::new_with_config(config);
        let catalog = ctx
            .catalog("datafusion")
            .expect("the default catalog exists");
        for schema in ["lake", "config"] {
            catalog
                .register_schema(schema, Arc::new(MemorySchemaProvider::new()))
                .expect("schemas can be registered");
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

    /// Registers `lake.<name>`: every Parquet file under `dir`, with `schema`.
    pub fn register_lake_table(
        &self,
        name: &str,
        dir: &Path,
        schema: SchemaRef,
    ) -> Result<(), SqlError> {
        std::fs::create_dir_all(dir).map_err(|source| SqlError::Read {
            path: dir.to_owned(),
            source,
        })?;
        let url = ListingTableUrl::parse(format!("{}/", dir.display())).map_err(session_err)?;
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .with_schema(schema);
        let table = ListingTable::try_new(config).map_err(session_err)?;
        self.ctx
            .register_table(TableReference::partial("lake", name), Arc::new(table))
            .map_err(session_err)?;
        Ok(())
    }

    /// Registers `config.params`: one row with `as_of` and every pipeline parameter, typed.
    pub fn register_params(
        &self,
        as_of: NaiveDate,
        params: &[(String, ParamValue)],
    ) -> Result<(), SqlError> {
        let mut fields = vec![Field::new("as_of", DataType::Date32, false)];
        let mut columns: Vec<ArrayRef> = vec![Arc::new(Date32Array::from(vec![epoch_days(as_of)]))];
        for (name, value) in params {
            let (dt, col): (DataType, ArrayRef) = match value {
                ParamValue::Text(s) => (
                    DataType::Utf8,
                    Arc::new(StringArray::from(vec![s.as_str()])),
                ),
                ParamValue::Int(i) => (DataType::Int64, Arc::new(Int64Array::from(vec![*i]))),
                ParamValue::Float(f) => (DataType::Float64, Arc::new(Float64Array::from(vec![*f]))),
                ParamValue::Bool(b) => (DataType::Boolean, Arc::new(BooleanArray::from(vec![*b]))),
                ParamValue::Date(d) => (
                    DataType::Date32,
                    Arc::new(Date32Array::from(vec![epoch_days(*d)])),
                ),
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
        let labels: Vec<String> = periods
            .iter()
            .map(|p| {
                p.label
                    .clone()
                    .unwrap_or_else(|| format!("{} → {}", p.start, p.end))
            })
            .collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(1..=periods.len() as i64)),
                Arc::new(StringArray::from_iter_values(labels.iter())),
                Arc::new(Date32Array::from_iter_values(
                    periods.iter().map(|p| epoch_days(p.start)),
                )),
                Arc::new(Date32Array::from_iter_values(
                    periods.iter().map(|p| epoch_days(p.end)),
                )),
            ],
        )
        .map_err(|e| SqlError::Session(e.to_string()))?;
        self.register_config("periods", batch)
    }

    fn register_config(&self, name: &str, batch: RecordBatch) -> Result<(), SqlError> {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).map_err(session_err)?;
        self.ctx
            .register_table(TableReference::partial("config", name), Arc::new(table))
            .map_err(session_err)?;
        Ok(())
    }

    /// Runs every model of `project` in order, materialising each one as table `<name>`.
    pub async fn build(&self, project: &Project) -> Result<Build, SqlError> {
        let mut build = Build::default();
        for model in &project.models {
            let fail = |e: datafusion::error::DataFusionError| SqlError::Plan {
                model: model.name.clone(),
                file: model.file.clone(),
                message: e.strip_backtrace(),
            };
            let df = self.ctx.sql(&model.sql).await.map_err(fail)?;
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.map_err(fail)?;
            let table = MemTable::try_new(schema.clone(), vec![batches.clone()]).map_err(fail)?;
            self.ctx
                .deregister_table(model.name.as_str())
                .map_err(fail)?;
            self.ctx
                .register_table(model.name.as_str(), Arc::new(table))
                .map_err(fail)?;
            build.tables.push((model.name.clone(), schema, batches));
        }
        Ok(build)
    }
}
