//! Setting up the models of a pipeline: the session with its `lake` and `config` tables, the
//! project found in the models folder, and its contracts. Shared by `run` and `check`.

use std::path::Path;

use chrono::NaiveDate;
use exhibits_core::pipeline::Pipeline;
use exhibits_ingest::Lake;
use exhibits_sql::{Contracts, ModelSession, Project, SqlError};

/// A session for `pipeline` at `as_of`, with the project and contracts of its models folder.
/// The `lake.*` tables are empty tables with the canonical schemas, enough to plan every model
/// without touching any storage; [`attach_lake`] points them at the data.
pub(crate) fn open(pipeline: &Pipeline, as_of: NaiveDate) -> Result<(ModelSession, Project, Contracts), SqlError> {
    let session = ModelSession::new();
    for (table, schema) in exhibits_ingest::lake_tables() {
        session.register_lake_schema(table, schema)?;
    }
    session.register_params(as_of, &pipeline.params)?;
    session.register_periods(&pipeline.periods)?;
    session.register_rebalances(&pipeline.rebalance.as_ref().map(|r| r.trading_dates(as_of)).unwrap_or_default())?;
    let project = Project::discover(&pipeline.models_dir, &session.state())?;
    let contracts = Contracts::load(&pipeline.models_dir)?;
    Ok((session, project, contracts))
}

/// Points the session's `lake.*` tables at the ingested Parquet of `lake`.
pub(crate) fn attach_lake(session: &ModelSession, lake: &Lake) -> Result<(), SqlError> {
    for (table, schema) in exhibits_ingest::lake_tables() {
        session.register_lake_table(table, &lake.table_dir(table), schema)?;
    }
    Ok(())
}

/// The files of `dir` (not recursive) ending in `.ext`, in name order.
pub(crate) fn files_with_extension(dir: &Path, ext: &str) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut found: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    found.sort();
    Ok(found)
}
