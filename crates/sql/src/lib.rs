//! `exhibits-sql`: the SQL model layer — `sql/**/<name>.sql` files run on DataFusion.
//!
//! A data engineer changes exhibits by editing SQL, never Rust:
//!
//! - **Models**: every `<name>.sql` under the models folder is one query, registered as table
//!   `<name>`. Names are unique across folders.
//! - **Inputs**: `lake.<table>` are the ingested tables; `config.params` is one row of typed
//!   parameters (the run's `as_of` plus the pipeline's `[params]`); `config.periods` holds the
//!   pipeline's `[[periods]]`. Any other table a query names must be another model.
//! - **Order**: dependencies are read from each query with DataFusion's own SQL parser and
//!   resolver (CTE names are not dependencies), then models run in topological order; a cycle,
//!   an unknown table or a duplicate name is an error naming the file and line.
//!
//! Each model is materialised in memory once, so a model used by three exhibits runs once, and
//! what is published is exactly what the downstream models saw.

pub mod bench;
mod contract;
mod keyed_window;
mod model;
mod session;
mod slt;
mod udf;

pub use contract::{CONTRACT_FILE, ColumnContract, Contracts, Declared, ModelContract};
pub use keyed_window::{KeyedWindowExec, KeyedWindowRule, session_context};
pub use model::{DataTest, Model, Project, TEST_SUFFIX};
pub use session::{Build, ModelSession, Planned, TestFailure};
pub use slt::{run_slt_file, slt_dir};
pub use udf::product;

use std::path::PathBuf;

use exhibits_core::{Classify, ExitStatus};

/// An error in the models or while running them.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error("cannot read models in {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: PathBuf, message: String },
    #[error("model {name} is defined twice: {first} and {second}")]
    DuplicateName { name: String, first: PathBuf, second: PathBuf },
    #[error("{file}:{line}: unknown table {table}: not a model, nor lake.<table> or config.<table>")]
    UnknownTable { file: PathBuf, line: usize, table: String },
    #[error("{file}:{line}: models form a cycle: {}", cycle.join(" → "))]
    Cycle { cycle: Vec<String>, file: PathBuf, line: usize },
    #[error("{0}")]
    Select(String),
    #[error("model {model} ({file}): {message}")]
    Plan { model: String, file: PathBuf, message: String },
    #[error("{0}")]
    Session(String),
}

impl Classify for SqlError {
    fn exit_status(&self) -> ExitStatus {
        match self {
            SqlError::Read { .. } | SqlError::Select(_) => ExitStatus::Usage,
            _ => ExitStatus::DataError,
        }
    }
}
