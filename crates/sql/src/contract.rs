//! Data contracts: a `schema.yml` per folder of models, like dbt's.
//!
//! ```yaml
//! models:
//!   - name: daily_returns
//!     description: Close-to-close return of each index on each of its trading days.
//!     tags: [core]
//!     keys: [index_id, date]          # unique and never null together
//!     columns:
//!       - name: date
//!         type: date                  # date, bigint, integer, double, varchar, boolean, timestamp
//!         nullable: false             # default true
//!       - name: daily_return
//!         type: double
//!         range: [-1, 10]             # inclusive bounds for numbers
//! ```
//!
//! `check` compares every contract with the schema DataFusion plans for its model (names and
//! types, listed column by column); a run enforces the rest on the data (nulls, keys, ranges)
//! before anything is published.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, Float64Array, RecordBatch};
use datafusion::arrow::compute::{cast, max, min};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::row::{RowConverter, SortField};
use serde::Deserialize;

use crate::SqlError;
use crate::model::{files_under, line_of};

/// The file name of a folder's contracts.
pub const CONTRACT_FILE: &str = "schema.yml";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractFile {
    models: Vec<ModelContract>,
}

/// The contract of one model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelContract {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Columns that identify a row: unique together, never null.
    #[serde(default)]
    pub keys: Vec<String>,
    pub columns: Vec<ColumnContract>,
}

/// The contract of one column.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnContract {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default = "yes")]
    pub nullable: bool,
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    #[serde(default)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

/// Where a contract was declared.
#[derive(Debug, Clone)]
pub struct Declared {
    pub file: PathBuf,
    pub line: usize,
    pub contract: ModelContract,
}

/// Every contract under a models folder, by model name.
#[derive(Debug, Clone, Default)]
pub struct Contracts {
    pub by_model: BTreeMap<String, Declared>,
}

/// The declared type names and whether an Arrow type satisfies them.
fn type_matches(declared: &str, dt: &DataType) -> Option<bool> {
    Some(match declared {
        "date" => matches!(dt, DataType::Date32),
        "bigint" => matches!(dt, DataType::Int64),
        "integer" => matches!(dt, DataType::Int32),
        "double" => matches!(dt, DataType::Float64),
        "varchar" => matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View),
        "boolean" => matches!(dt, DataType::Boolean),
        "timestamp" => matches!(dt, DataType::Timestamp(_, _)),
        _ => return None,
    })
}

const TYPE_NAMES: &str = "date, bigint, integer, double, varchar, boolean, timestamp";

impl Contracts {
    /// Reads every `schema.yml` under `dir`.
    pub fn load(dir: &Path) -> Result<Contracts, SqlError> {
        let mut files = Vec::new();
        files_under(dir, &|p| p.file_name().is_some_and(|n| n == CONTRACT_FILE), &mut files)?;
        let mut by_model = BTreeMap::new();
        for file in files {
            let text =
                std::fs::read_to_string(&file).map_err(|source| SqlError::Read { path: file.clone(), source })?;
            let parsed: ContractFile = serde_yaml::from_str(&text)
                .map_err(|e| SqlError::Parse { file: file.clone(), message: e.to_string() })?;
            for contract in parsed.models {
                let line = line_of(&text, &contract.name);
                let problem =
                    |what: String| SqlError::Parse { file: file.clone(), message: format!("line {line}: {what}") };
                for c in &contract.columns {
                    if type_matches(&c.data_type, &DataType::Null).is_none() {
                        return Err(problem(format!(
                            "column {}: unknown type {:?}; use one of {TYPE_NAMES}",
                            c.name, c.data_type
                        )));
                    }
                }
                if let Some(k) = contract.keys.iter().find(|k| !contract.columns.iter().any(|c| &c.name == *k)) {
                    return Err(problem(format!("key {k} of model {} is not one of its columns", contract.name)));
                }
                if let Some(earlier) = by_model.get(&contract.name) {
                    let earlier: &Declared = earlier;
                    return Err(problem(format!(
                        "model {} already has a contract in {}",
                        contract.name,
                        earlier.file.display()
                    )));
                }
                by_model.insert(contract.name.clone(), Declared { file: file.clone(), line, contract });
            }
        }
        Ok(Contracts { by_model })
    }

    /// The contract of `model`.
    pub fn get(&self, model: &str) -> Option<&Declared> {
        self.by_model.get(model)
    }

    /// The models tagged `tag`.
    pub fn tagged(&self, tag: &str) -> Vec<String> {
        self.by_model
            .values()
            .filter(|d| d.contract.tags.iter().any(|t| t == tag))
            .map(|d| d.contract.name.clone())
            .collect()
    }
}

impl Declared {
    /// Differences between the contract and a model's schema, one line per column.
    pub fn schema_problems(&self, schema: &Schema) -> Vec<String> {
        let mut problems = Vec::new();
        for c in &self.contract.columns {
            match schema.field_with_name(&c.name) {
                Err(_) => problems
                    .push(format!("column {}: declared {} but the model has no such column", c.name, c.data_type)),
                Ok(f) if type_matches(&c.data_type, f.data_type()) == Some(false) => problems.push(format!(
                    "column {}: declared {} but the model produces {}",
                    c.name,
                    c.data_type,
                    f.data_type()
                )),
                Ok(_) => {}
            }
        }
        for f in schema.fields() {
            if !self.contract.columns.iter().any(|c| c.name == *f.name()) {
                problems.push(format!(
                    "column {}: produced by the model ({}) but not in the contract",
                    f.name(),
                    f.data_type()
                ));
            }
        }
        problems
    }

    /// Violations of nullability, keys and ranges in the model's data, one line each.
    pub fn data_problems(&self, schema: &Schema, batches: &[RecordBatch]) -> Vec<String> {
        let mut problems = self.schema_problems(schema);
        if !problems.is_empty() {
            return problems;
        }
        let column = |name: &str| -> Vec<&dyn Array> {
            let i = schema.index_of(name).expect("checked by schema_problems");
            batches.iter().map(|b| b.column(i).as_ref()).collect()
        };
        for c in &self.contract.columns {
            let arrays = column(&c.name);
            let nulls: usize = arrays.iter().map(|a| a.null_count()).sum();
            let not_null = !c.nullable || self.contract.keys.contains(&c.name);
            if not_null && nulls > 0 {
                problems.push(format!("column {}: {nulls} null values, declared not null", c.name));
            }
            if let Some([lo, hi]) = c.range {
                let (mut seen_lo, mut seen_hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for a in &arrays {
                    let Ok(f) = cast(*a, &DataType::Float64) else { continue };
                    let f = f.as_any().downcast_ref::<Float64Array>().expect("cast to Float64");
                    seen_lo = seen_lo.min(min(f).unwrap_or(f64::INFINITY));
                    seen_hi = seen_hi.max(max(f).unwrap_or(f64::NEG_INFINITY));
                }
                if seen_lo < lo || seen_hi > hi {
                    problems.push(format!(
                        "column {}: values from {seen_lo} to {seen_hi}, outside the declared range [{lo}, {hi}]",
                        c.name
                    ));
                }
            }
        }
        if !self.contract.keys.is_empty() {
            let indexes: Vec<usize> =
                self.contract.keys.iter().map(|k| schema.index_of(k).expect("key column")).collect();
            let fields = indexes.iter().map(|i| SortField::new(schema.field(*i).data_type().clone())).collect();
            let converter = RowConverter::new(fields).expect("key types are sortable");
            let mut seen = HashSet::new();
            let mut duplicates = 0;
            for b in batches {
                let cols: Vec<_> = indexes.iter().map(|i| b.column(*i).clone()).collect();
                let rows = converter.convert_columns(&cols).expect("key columns convert");
                for r in rows.iter() {
                    if !seen.insert(r.as_ref().to_vec()) {
                        duplicates += 1;
                    }
                }
            }
            if duplicates > 0 {
                problems.push(format!("keys ({}): {duplicates} duplicate rows", self.contract.keys.join(", ")));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Date32Array, Int64Array};
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    fn contracts(yml: &str) -> Result<Contracts, SqlError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONTRACT_FILE), yml).unwrap();
        Contracts::load(dir.path())
    }

    const YML: &str = "models:\n  - name: m\n    keys: [d]\n    columns:\n      - name: d\n        type: date\n      - name: n\n        type: bigint\n        nullable: false\n        range: [0, 10]\n";

    #[test]
    fn schema_differences_are_listed_column_by_column() {
        let c = contracts(YML).unwrap();
        let schema = Schema::new(vec![Field::new("d", DataType::Utf8, true), Field::new("x", DataType::Int64, true)]);
        assert_eq!(
            c.get("m").unwrap().schema_problems(&schema),
            [
                "column d: declared date but the model produces Utf8",
                "column n: declared bigint but the model has no such column",
                "column x: produced by the model (Int64) but not in the contract",
            ]
        );
    }

    #[test]
    fn data_violations_are_found() {
        let c = contracts(YML).unwrap();
        let schema = Arc::new(Schema::new(vec![
            Field::new("d", DataType::Date32, true),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Date32Array::from(vec![Some(1), Some(1), None])),
                Arc::new(Int64Array::from(vec![Some(3), None, Some(11)])),
            ],
        )
        .unwrap();
        assert_eq!(
            c.get("m").unwrap().data_problems(&schema, &[batch]),
            [
                "column d: 1 null values, declared not null",
                "column n: 1 null values, declared not null",
                "column n: values from 3 to 11, outside the declared range [0, 10]",
                "keys (d): 1 duplicate rows",
            ]
        );
    }

    #[test]
    fn unknown_types_and_keys_are_errors_in_the_file() {
        let err = contracts(&YML.replace("type: bigint", "type: bignum")).unwrap_err().to_string();
        assert!(err.contains("schema.yml: line 2: column n: unknown type \"bignum\""), "{err}");
        let err = contracts(&YML.replace("keys: [d]", "keys: [z]")).unwrap_err().to_string();
        assert!(err.contains("key z of model m is not one of its columns"), "{err}");
    }
}
