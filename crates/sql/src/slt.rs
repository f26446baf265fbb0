//! SQL tests: sqllogictest (`.slt`) files that run the real model files over small inline inputs.
//!
//! The files use the format of DataFusion's own SQL tests, run by the same `sqllogictest`
//! runner, over a session with the `lake` and `config` schemas. One statement is ours:
//!
//! ```text
//! statement ok
//! create table lake.index_levels (date date, index_id varchar, price_level double,
//!   total_return_level double, source varchar) as values
//!   ('2024-07-10'::date, 'R2000', null, 100.0, 'test'), …
//!
//! statement ok
//! run model daily_returns          -- runs sql/**/daily_returns.sql, registers its result
//!
//! query DTRR
//! select date, index_id, level, daily_return from daily_returns
//! ----
//! 2024-07-11 R2000 103 0.03
//! ```
//!
//! `--complete` rewrites the expected output of every query from the current results, for a
//! reviewer to read in the diff (as DataFusion's `cargo test --test sqllogictests -- --complete`).
//! Values print as SQL would show them: `NULL`, dates as `YYYY-MM-DD`, floats rounded to 12
//! decimals without trailing zeros, the empty string as `(empty)`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float32Type, Float64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::datasource::MemTable;
use sqllogictest::{DBOutput, DefaultColumnType};

use crate::{ModelSession, Project};

/// Where a models folder's `.slt` files live: `<models>/../tests/sql/<model>.slt`.
pub fn slt_dir(models_dir: &Path) -> PathBuf {
    models_dir.join("../tests/sql")
}

/// An error inside an `.slt` run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SltError(String);

impl From<datafusion::error::DataFusionError> for SltError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        SltError(e.strip_backtrace())
    }
}

/// One connection: a fresh session per file, with the models of the project.
struct ModelDb {
    session: ModelSession,
    project: Arc<Project>,
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    let s = format!("{v:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

fn cell(array: &dyn Array, row: usize) -> Result<String, SltError> {
    if array.is_null(row) {
        return Ok("NULL".into());
    }
    Ok(match array.data_type() {
        DataType::Float64 => float_text(array.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => float_text(f64::from(array.as_primitive::<Float32Type>().value(row))),
        _ => {
            let f = ArrayFormatter::try_new(array, &FormatOptions::default()).map_err(|e| SltError(e.to_string()))?;
            let s = f.value(row).to_string();
            if s.is_empty() { "(empty)".into() } else { s }
        }
    })
}

fn column_type(dt: &DataType) -> DefaultColumnType {
    match dt {
        dt if dt.is_integer() => DefaultColumnType::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(_, _) => {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

impl ModelDb {
    async fn run_model(&mut self, name: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let model = self
            .project
            .model(name)
            .ok_or_else(|| SltError(format!("no model {name} in {}", self.project.dir.display())))?;
        let ctx = self.session.context();
        let df = ctx.sql(&model.sql).await?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let (schema, batches) = crate::session::conform(schema, df.collect().await?)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        ctx.deregister_table(name)?;
        ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        Ok(DBOutput::StatementComplete(rows as u64))
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for ModelDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let statement = sql.trim().trim_end_matches(';').trim();
        let words: Vec<&str> = statement.split_whitespace().collect();
        if let [run, model, name] = words.as_slice()
            && run.eq_ignore_ascii_case("run")
            && model.eq_ignore_ascii_case("model")
        {
            return self.run_model(name).await;
        }
        let df = self.session.context().sql(sql).await?;
        let schema = df.schema().as_arrow().clone();
        let batches = df.collect().await?;
        if schema.fields().is_empty() {
            return Ok(DBOutput::StatementComplete(0));
        }
        let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
        let mut rows = Vec::new();
        for b in &batches {
            for r in 0..b.num_rows() {
                rows.push(b.columns().iter().map(|c| cell(c.as_ref(), r)).collect::<Result<Vec<_>, _>>()?);
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "exhibits"
    }
}

/// Runs (or, with `complete`, rewrites) one `.slt` file against the models of `project`.
pub async fn run_slt_file(project: &Arc<Project>, file: &Path, complete: bool) -> Result<(), String> {
    let project = project.clone();
    let mut runner = sqllogictest::Runner::new(move || {
        let project = project.clone();
        async move { Ok::<_, SltError>(ModelDb { session: ModelSession::new(), project }) }
    });
    if complete {
        runner
            .update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            )
            .await
            .map_err(|e| e.to_string())
    } else {
        runner.run_file_async(file).await.map_err(|e| e.display(false).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_rounded_without_trailing_zeros() {
        assert_eq!(float_text(0.1 + 0.2), "0.3");
        assert_eq!(float_text(3.0), "3");
        assert_eq!(float_text(-19.099999999999966), "-19.1");
        assert_eq!(float_text(-0.0), "0");
        assert_eq!(float_text(1.0 / 3.0), "0.333333333333");
    }
}
