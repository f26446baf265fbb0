//! `exhibits check`: every pipeline file and every model, contract and data test, planned
//! without any data; lists every problem found (file, line, what) and exits 2 if any.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::anyhow;
use clap::Args;
use exhibits_core::ExitStatus;
use exhibits_core::pipeline::Pipeline;
use exhibits_sql::{CONTRACT_FILE, slt_dir};
use serde_json::json;

use crate::failure::Failure;
use crate::models;

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// Pipeline files to check (default: every pipelines/*.toml). Repeat or separate with commas.
    #[arg(long = "pipeline", value_delimiter = ',', env = "EXHIBITS_PIPELINE")]
    pipelines: Vec<PathBuf>,
}

/// Problems in the order found, each once.
#[derive(Default)]
struct Problems {
    list: Vec<String>,
    seen: HashSet<String>,
}

impl Problems {
    fn list_raw(&mut self, text: String) {
        if self.seen.insert(text.clone()) {
            self.list.push(text);
        }
    }

    fn add(&mut self, file: &Path, line: Option<usize>, what: impl std::fmt::Display) {
        let file = exhibits_core::pipeline::normalize(file);
        let text = match line {
            Some(l) => format!("{}:{l}: {what}", file.display()),
            None => format!("{}: {what}", file.display()),
        };
        self.list_raw(text);
    }
}

pub(crate) async fn run(args: CheckArgs) -> Result<serde_json::Value, Failure> {
    let files = if args.pipelines.is_empty() {
        let mut found: Vec<PathBuf> = std::fs::read_dir("pipelines")
            .map_err(|e| {
                Failure::new(ExitStatus::Usage, anyhow!("no --pipeline given and cannot list ./pipelines: {e}"))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        found.sort();
        found
    } else {
        args.pipelines
    };
    if files.is_empty() {
        return Err(Failure::new(ExitStatus::Usage, anyhow!("no pipeline files to check")));
    }
    let mut problems = Problems::default();
    let mut models_checked = HashSet::new();
    for file in &files {
        let pipeline = match Pipeline::load(file) {
            Ok(p) => p,
            Err(e) => {
                problems.add(file, None, e);
                continue;
            }
        };
        check_pipeline(&pipeline, &mut problems, &mut models_checked).await;
    }
    for p in &problems.list {
        eprintln!("{p}");
    }
    let summary = json!({ "pipelines": files, "models": models_checked.len(), "problems": problems.list });
    if problems.list.is_empty() {
        eprintln!("{} pipeline(s), {} model(s): no problems", files.len(), models_checked.len());
        return Ok(summary);
    }
    Err(Failure::new(ExitStatus::Usage, anyhow!("{} problem(s) found", problems.list.len())).with_summary(summary))
}

async fn check_pipeline(pipeline: &Pipeline, problems: &mut Problems, models_checked: &mut HashSet<String>) {
    let as_of = chrono::Local::now().date_naive();
    let (session, project, contracts) = match models::open(pipeline, as_of) {
        Ok(opened) => opened,
        Err(e) => {
            // The error names the model or contract file (and line) itself.
            problems.list_raw(e.to_string());
            return;
        }
    };
    for d in pipeline.publish.datasets.iter().filter(|d| project.model(d).is_none()) {
        problems.add(&pipeline.file, None, format!("[publish] lists dataset {d}, but there is no model {d}.sql"));
    }
    // Planning depends on the pipeline's parameters, so it runs for every pipeline.
    for planned in session.plan(&project).await {
        match &planned.outcome {
            Err(e) => {
                problems.add(&planned.file, None, format!("{} (with pipeline {}): {e}", planned.name, pipeline.name))
            }
            Ok(schema) => {
                if let Some(declared) = contracts.get(&planned.name) {
                    for p in declared.schema_problems(schema) {
                        problems.add(&declared.file, Some(declared.line), format!("contract of {}: {p}", planned.name));
                    }
                }
            }
        }
    }
    let tests_dir = slt_dir(&pipeline.models_dir);
    for m in &project.models {
        models_checked.insert(m.name.clone());
        if contracts.get(&m.name).is_none() {
            let yml = m.file.parent().unwrap_or(Path::new(".")).join(CONTRACT_FILE);
            problems.add(&m.file, None, format!("model {} has no contract: add it to {}", m.name, yml.display()));
        }
        let slt = tests_dir.join(format!("{}.slt", m.name));
        if !slt.is_file() {
            problems.add(
                &m.file,
                None,
                format!("model {} has no SQL test: add {}", m.name, exhibits_core::pipeline::normalize(&slt).display()),
            );
        }
    }
    for (name, declared) in &contracts.by_model {
        if project.model(name).is_none() {
            problems.add(
                &declared.file,
                Some(declared.line),
                format!("contract for {name}, but there is no model {name}.sql"),
            );
        }
    }
}
