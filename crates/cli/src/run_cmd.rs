//! `exhibits run`: ingest → models → publish, for one as-of date or every trading day of a range.

use std::path::PathBuf;

use anyhow::anyhow;
use chrono::NaiveDate;
use clap::Args;
use exhibits_core::ExitStatus;
use exhibits_core::calendar;
use exhibits_core::pipeline::Pipeline;
use exhibits_ingest::{Lake, ReadSource};
use exhibits_publish::{Dataset, Publisher};
use exhibits_sql::{ModelSession, Project};
use serde_json::json;

use crate::failure::Failure;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The pipeline file.
    #[arg(
        long,
        env = "EXHIBITS_PIPELINE",
        default_value = "pipelines/nightly.toml"
    )]
    pipeline: PathBuf,
    /// The as-of date (YYYY-MM-DD): data up to and including this date.
    #[arg(
        long,
        env = "EXHIBITS_AS_OF",
        required_unless_present = "from",
        conflicts_with = "from"
    )]
    as_of: Option<NaiveDate>,
    /// Backfill: the first as-of date (every trading day from here to --to is run).
    #[arg(long, requires = "to")]
    from: Option<NaiveDate>,
    /// Backfill: the last as-of date.
    #[arg(long, requires = "from")]
    to: Option<NaiveDate>,
    /// Lake folder, overriding the pipeline's `lake`.
    #[arg(long, env = "EXHIBITS_LAKE")]
    lake: Option<PathBuf>,
    /// Publish target (folder or URL), overriding the pipeline's `[publish] url`.
    #[arg(long, env = "EXHIBITS_PUBLISH_URL")]
    publish: Option<String>,
}

pub(crate) async fn run(args: RunArgs) -> Result<serde_json::Value, Failure> {
    let mut pipeline = Pipeline::load(&args.pipeline)?;
    if let Some(lake) = args.lake {
        pipeline.lake_dir = lake;
    }
    if let Some(url) = args.publish {
        pipeline.publish.url = url;
    }
    let dates = match (args.as_of, args.from, args.to) {
        (Some(d), _, _) => vec![d],
        (None, Some(from), Some(to)) if from <= to => from
            .iter_days()
            .take_while(|d| *d <= to)
            .filter(|d| calendar::is_trading_day(*d))
            .collect(),
        (None, Some(from), Some(to)) => {
            return Err(Failure::new(
                ExitStatus::Usage,
                anyhow!("--from {from} is after --to {to}"),
            ));
        }
        _ => unreachable!("clap requires --as-of or --from with --to"),
    };
    if dates.is_empty() {
        return Err(Failure::new(
            ExitStatus::Usage,
            anyhow!("the backfill range holds no trading day"),
        ));
    }
    let mut runs = Vec::with_capacity(dates.len());
    for as_of in &dates {
        match run_one(&pipeline, *as_of).await {
            Ok(summary) => runs.push(summary),
            Err(f) if dates.len() == 1 => return Err(f),
            Err(f) => {
                let summary = json!({ "pipeline": pipeline.name, "completed": runs, "failed_as_of": as_of.to_string() });
                return Err(Failure { summary, ..f });
            }
        }
    }
    if runs.len() == 1 {
        return Ok(runs.pop().expect("one run"));
    }
    Ok(json!({ "pipeline": pipeline.name, "runs": runs }))
}

fn input_summary(reads: &[ReadSource]) -> serde_json::Value {
    serde_json::to_value(reads.iter().map(|r| &r.report).collect::<Vec<_>>())
        .expect("reports serialise")
}

async fn run_one(pipeline: &Pipeline, as_of: NaiveDate) -> Result<serde_json::Value, Failure> {
    let mut summary = json!({ "pipeline": pipeline.name, "as_of": as_of.to_string() });
    tracing::info!(pipeline = %pipeline.file.display(), %as_of, "run");

    // Read and validate every source before writing anything, so that a run that is too early
    // (exit 99) leaves the lake as it was.
    let mut reads = Vec::with_capacity(pipeline.sources.len());
    for source in &pipeline.sources {
        let read = exhibits_ingest::read_source(source)
            .map_err(|e| Failure::from(e).with_summary(summary.clone()))?;
        let r = &read.report;
        tracing::info!(source = %r.source, rows = r.rows_read, accepted = r.accepted, rejected = r.rejected, "read {}", r.file.display());
        if let Some(first) = read.rejected().first() {
            tracing::warn!(
                "{}: {} rows quarantined; first at line {}{}: {}",
                r.file.display(),
                r.rejected,
                first.line,
                first
                    .column
                    .as_ref()
                    .map(|c| format!(", column {c}"))
                    .unwrap_or_default(),
                first.reason
            );
        }
        let expected = calendar::last_trading_day_on_or_before(as_of);
        if source.requires_as_of() && r.max_date.is_none_or(|d| d < expected) {
            let latest = r.max_date.map_or("no rows".to_string(), |d| d.to_string());
            summary["inputs"] = input_summary(&reads);
            return Err(Failure::new(
                ExitStatus::NotReady,
                anyhow!(
                    "source {} ({}) reaches {latest}, not yet the as-of trading day {expected}; nothing was done",
                    r.source,
                    r.file.display()
                ),
            )
            .with_summary(summary));
        }
        reads.push(read);
    }
    summary["inputs"] = input_summary(&reads);

    let lake = Lake::open(&pipeline.lake_dir)
        .map_err(|e| Failure::from(e).with_summary(summary.clone()))?;
    for read in &reads {
        lake.store(read)
            .await
            .map_err(|e| Failure::from(e).with_summary(summary.clone()))?;
    }

    let session = ModelSession::new();
    let fail = |e: exhibits_sql::SqlError| Failure::from(e).with_summary(summary.clone());
    for (table, schema) in [
        ("index_levels", exhibits_ingest::index_levels_schema()),
        ("yields", exhibits_ingest::yields_schema()),
        ("quarantine", exhibits_ingest::quarantine_schema()),
    ] {
        session
            .register_lake_table(table, &lake.table_dir(table), schema)
            .map_err(fail)?;
    }
    session
        .register_params(as_of, &pipeline.params)
        .map_err(fail)?;
    session.register_periods(&pipeline.periods).map_err(fail)?;
    let project = Project::discover(&pipeline.models_dir, &session.state()).map_err(fail)?;
    if let Some(missing) = pipeline
        .publish
        .datasets
        .iter()
        .find(|d| project.model(d).is_none())
    {
        return Err(Failure::new(
            ExitStatus::Usage,
            anyhow!(
                "{}: [publish] lists dataset {missing}, but {} has no model {missing}.sql",
                pipeline.file.display(),
                pipeline.models_dir.display()
            ),
        )
        .with_summary(summary));
    }
    let build = session.build(&project).await.map_err(fail)?;
    tracing::info!(models = project.models.len(), "built");

    let publisher = Publisher::open(&pipeline.publish.url)
        .map_err(|e| Failure::from(e).with_summary(summary.clone()))?;
    let datasets: Vec<Dataset> = pipeline
        .publish
        .datasets
        .iter()
        .map(|name| {
            let (schema, batches) = build
                .get(name)
                .expect("every published dataset is a model that was built");
            Dataset {
                name,
                schema: schema.clone(),
                batches,
            }
        })
        .collect();
    let manifest = publisher
        .publish(&pipeline.name, as_of, &datasets, summary["inputs"].clone())
        .await
        .map_err(|e| Failure::from(e).with_summary(summary.clone()))?;
    for ds in &manifest.datasets {
        tracing::info!(
            "published {:>7} rows  {}/{}",
            ds.rows,
            publisher.url(),
            ds.files[0]
        );
    }
    summary["publish"] = publisher.url().into();
    summary["manifest"] = format!("{}/manifests/as_of={as_of}.json", publisher.url()).into();
    summary["datasets"] = manifest
        .datasets
        .iter()
        .map(|d| (d.name.clone(), json!(d.rows)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    Ok(summary)
}
