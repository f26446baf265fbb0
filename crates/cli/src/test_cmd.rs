//! `exhibits test`: the SQL tests (`.slt` files) of the models, run against the real model files.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use exhibits_core::ExitStatus;
use exhibits_sql::{ModelSession, Project, run_slt_file, slt_dir};
use serde_json::json;

use crate::failure::Failure;

#[derive(Args)]
pub(crate) struct TestArgs {
    /// The models folder.
    #[arg(long, default_value = "sql", env = "EXHIBITS_MODELS")]
    models: PathBuf,
    /// The folder of `.slt` files (default: <models>/../tests/sql).
    #[arg(long)]
    tests: Option<PathBuf>,
    /// Rewrite the expected output of every query from the current results (review the diff).
    #[arg(long)]
    complete: bool,
    /// Only these `.slt` files.
    files: Vec<PathBuf>,
}

pub(crate) async fn run(args: TestArgs) -> Result<serde_json::Value, Failure> {
    let project = Arc::new(Project::discover(&args.models, &ModelSession::new().state())?);
    let files = if args.files.is_empty() {
        let dir = args.tests.unwrap_or_else(|| exhibits_core::pipeline::normalize(&slt_dir(&args.models)));
        crate::models::files_with_extension(&dir, "slt")
            .map_err(|e| Failure::new(ExitStatus::Usage, anyhow!("cannot list SQL tests in {}: {e}", dir.display())))?
    } else {
        args.files
    };
    if files.is_empty() {
        return Err(Failure::new(ExitStatus::Usage, anyhow!("no .slt files found")));
    }
    let mut failed = Vec::new();
    for file in &files {
        match run_slt_file(&project, file, args.complete).await {
            Ok(()) => eprintln!("{} {}", if args.complete { "completed" } else { "ok    " }, file.display()),
            Err(e) => {
                eprintln!("FAILED {}\n{e}", file.display());
                failed.push(json!({ "file": file, "error": e }));
            }
        }
    }
    let summary = json!({ "files": files.len(), "passed": files.len() - failed.len(), "failed": failed });
    eprintln!("{} passed, {} failed", files.len() - failed.len(), failed.len());
    if failed.is_empty() {
        Ok(summary)
    } else {
        Err(Failure::new(ExitStatus::DataError, anyhow!("{} of {} SQL test files failed", failed.len(), files.len()))
            .with_summary(summary))
    }
}
