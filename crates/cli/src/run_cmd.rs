//! `exhibits run`: ingest → models → publish, for one as-of date or every trading day of a range.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::anyhow;
use chrono::NaiveDate;
use clap::Args;
use exhibits_core::ExitStatus;
use exhibits_core::calendar;
use exhibits_core::pipeline::{OnBadFile, Pipeline, Source};
use exhibits_ingest::{IngestError, Keys, Lake, LakeLock, ReadSource, Staging, Stored};
use exhibits_publish::{Dataset, Publisher, RunInfo};
use exhibits_sql::{Contracts, Project};
use serde_json::json;

use crate::failure::{Failure, with_summary};
use crate::models;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// The pipeline file.
    #[arg(long, env = "EXHIBITS_PIPELINE", default_value = "pipelines/nightly.toml")]
    pipeline: PathBuf,
    /// The as-of date (YYYY-MM-DD): data up to and including this date.
    #[arg(long, env = "EXHIBITS_AS_OF", required_unless_present_any = ["from", "dry_run"], conflicts_with = "from")]
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
    /// Only these models (and what they read): `name`, `name+` (and downstream), `+name` (and
    /// upstream), `tag:x`. Repeat or separate with commas.
    #[arg(long, value_delimiter = ',', env = "EXHIBITS_SELECT")]
    select: Vec<String>,
    /// Print the plan (models in order, inputs, outputs, data tests) and stop.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Args)]
pub(crate) struct IngestArgs {
    /// The pipeline file.
    #[arg(long, env = "EXHIBITS_PIPELINE", default_value = "pipelines/nightly.toml")]
    pipeline: PathBuf,
    /// The as-of date (YYYY-MM-DD): rows dated after it are quarantined.
    #[arg(long, env = "EXHIBITS_AS_OF")]
    as_of: NaiveDate,
    /// Lake folder, overriding the pipeline's `lake`.
    #[arg(long, env = "EXHIBITS_LAKE")]
    lake: Option<PathBuf>,
}

/// `exhibits ingest`: the ingest stage alone — every source's files read, validated and stored
/// in the lake (nothing built or published). Exit 1 when a source's bad file is not tolerated
/// (the other files are stored).
pub(crate) async fn ingest(args: IngestArgs) -> Result<serde_json::Value, Failure> {
    let mut pipeline = Pipeline::load(&args.pipeline)?;
    if let Some(lake) = args.lake {
        pipeline.lake_dir = lake;
    }
    let inputs =
        read_sources(&pipeline, args.as_of).map_err(|f| f.with_summary(json!({ "pipeline": pipeline.name })))?;
    let mut summary =
        json!({ "pipeline": pipeline.name, "as_of": args.as_of.to_string(), "inputs": input_summary(&inputs) });
    if !inputs.bad.is_empty() {
        summary["bad_files"] = inputs.bad_summary(&pipeline);
    }
    let (lake, _lock) = open_lake(&pipeline, args.as_of).map_err(with_summary(&summary))?;
    summary["restated"] = store(&lake, &inputs).await.map_err(with_summary(&summary))?;
    bad_files_fail(&pipeline, &inputs, "nothing else was done").map_err(|f| f.with_summary(summary.clone()))?;
    Ok(summary)
}

/// Exit 1 naming the bad files of sources that do not tolerate them (`on_bad_file = "fail"`).
fn bad_files_fail(pipeline: &Pipeline, inputs: &Inputs, consequence: &str) -> Result<(), Failure> {
    let failing: Vec<String> = inputs.failing(pipeline).map(ToString::to_string).collect();
    if failing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        ExitStatus::DataError,
        anyhow!(
            "{} bad file(s); the other files were ingested, {consequence} (on_bad_file = \"skip\" tolerates them):\n  {}",
            failing.len(),
            failing.join("\n  ")
        ),
    ))
}

pub(crate) async fn run(args: RunArgs) -> Result<serde_json::Value, Failure> {
    let mut pipeline = Pipeline::load(&args.pipeline)?;
    if let Some(lake) = args.lake {
        pipeline.lake_dir = lake;
    }
    if let Some(url) = args.publish {
        pipeline.publish.url = url;
    }
    if args.dry_run {
        return dry_run(
            &pipeline,
            &args.select,
            args.as_of.or(args.from).unwrap_or_else(|| chrono::Local::now().date_naive()),
        );
    }
    let dates = match (args.as_of, args.from, args.to) {
        (Some(d), _, _) => vec![d],
        (None, Some(from), Some(to)) if from <= to => {
            from.iter_days().take_while(|d| *d <= to).filter(|d| calendar::is_trading_day(*d)).collect()
        }
        (None, Some(from), Some(to)) => {
            return Err(Failure::new(ExitStatus::Usage, anyhow!("--from {from} is after --to {to}")));
        }
        _ => unreachable!("clap requires --as-of or --from with --to"),
    };
    if dates.is_empty() {
        return Err(Failure::new(ExitStatus::Usage, anyhow!("the backfill range holds no trading day")));
    }
    // Every file of every source is read and validated once, whatever the number of dates;
    // rows dated after the last as-of date are quarantined.
    let until = *dates.last().expect("at least one date");
    let reads = read_sources(&pipeline, until).map_err(|f| f.with_summary(json!({ "pipeline": pipeline.name })))?;
    let mut runs = Vec::with_capacity(dates.len());
    for (i, as_of) in dates.iter().enumerate() {
        match run_one(&pipeline, *as_of, &args.select, &reads, i == 0).await {
            Ok(summary) => runs.push(summary),
            Err(f) if dates.len() == 1 => return Err(f),
            Err(f) => {
                let summary =
                    json!({ "pipeline": pipeline.name, "completed": runs, "failed_as_of": as_of.to_string() });
                return Err(Failure { summary, ..f });
            }
        }
    }
    if runs.len() == 1 {
        return Ok(runs.pop().expect("one run"));
    }
    Ok(json!({ "pipeline": pipeline.name, "runs": runs }))
}

/// The models to run and the datasets to publish, for `--select`.
struct Selection {
    run: BTreeSet<String>,
    publish: Vec<String>,
}

fn select(
    pipeline: &Pipeline,
    project: &Project,
    contracts: &Contracts,
    selectors: &[String],
) -> Result<Selection, Failure> {
    if let Some(missing) = pipeline.publish.datasets.iter().find(|d| project.model(d).is_none()) {
        return Err(Failure::new(
            ExitStatus::Usage,
            anyhow!(
                "{}: [publish] lists dataset {missing}, but {} has no model {missing}.sql",
                pipeline.file.display(),
                pipeline.models_dir.display()
            ),
        ));
    }
    let chosen: BTreeSet<String> = if selectors.is_empty() {
        project.models.iter().map(|m| m.name.clone()).collect()
    } else {
        project.select(selectors, contracts)?
    };
    let publish = pipeline.publish.datasets.iter().filter(|d| chosen.contains(*d)).cloned().collect();
    Ok(Selection { run: project.with_ancestors(&chosen), publish })
}

fn dry_run(pipeline: &Pipeline, selectors: &[String], as_of: NaiveDate) -> Result<serde_json::Value, Failure> {
    let (_, project, contracts) = models::open(pipeline, as_of)?;
    let selection = select(pipeline, &project, &contracts, selectors)?;
    let run_models: Vec<_> = project.models.iter().filter(|m| selection.run.contains(&m.name)).collect();
    let run_tests: Vec<_> =
        project.tests.iter().filter(|t| t.guards.iter().all(|g| selection.run.contains(g))).collect();
    eprintln!("plan for {} ({}):", pipeline.name, pipeline.file.display());
    eprintln!("  inputs:");
    for s in &pipeline.sources {
        eprintln!("    {:<24} {} → lake.{}", s.name, s.path.display(), s.format.table());
    }
    eprintln!("  models, in order:");
    for m in &run_models {
        let reads: Vec<&str> = m.depends_on.iter().chain(&m.inputs).map(String::as_str).collect();
        eprintln!("    {:<24} reads {}", m.name, reads.join(", "));
    }
    eprintln!("  data tests:");
    for t in &run_tests {
        eprintln!("    {:<24} guards {}", t.name, t.guards.join(", "));
    }
    eprintln!("  outputs:");
    for d in &selection.publish {
        eprintln!("    {d}");
    }
    let models: Vec<_> = run_models
        .iter()
        .map(|m| json!({ "model": m.name, "file": m.file, "reads": m.depends_on.iter().chain(&m.inputs).collect::<Vec<_>>() }))
        .collect();
    let tests: Vec<_> =
        run_tests.iter().map(|t| json!({ "test": t.name, "file": t.file, "guards": t.guards })).collect();
    let inputs: Vec<_> = pipeline
        .sources
        .iter()
        .map(|s| json!({ "source": s.name, "file": s.path, "table": format!("lake.{}", s.format.table()) }))
        .collect();
    let outputs: Vec<_> = selection
        .publish
        .iter()
        .map(|d| json!({ "dataset": d, "path": format!("{}/{d}/as_of=YYYY-MM-DD/part-<sha256>.parquet", pipeline.publish.url) }))
        .collect();
    Ok(
        json!({ "pipeline": pipeline.name, "dry_run": true, "inputs": inputs, "models": models, "data_tests": tests, "outputs": outputs }),
    )
}

fn input_summary(inputs: &Inputs) -> serde_json::Value {
    serde_json::to_value(inputs.reads.iter().map(|(_, r)| &r.report).collect::<Vec<_>>()).expect("reports serialise")
}

/// Every file of every source, read and validated; nothing written yet.
struct Inputs {
    /// Each file read, with the index of its source in the pipeline.
    reads: Vec<(usize, ReadSource)>,
    /// The files that are not their source's format (one error each), with their source's index.
    bad: Vec<(usize, IngestError)>,
}

impl Inputs {
    /// The bad files of sources that do not tolerate them (`on_bad_file = "fail"`).
    fn failing<'a>(&'a self, pipeline: &'a Pipeline) -> impl Iterator<Item = &'a IngestError> + 'a {
        self.bad.iter().filter(|(i, _)| pipeline.sources[*i].on_bad_file == OnBadFile::Fail).map(|(_, e)| e)
    }

    fn bad_summary(&self, pipeline: &Pipeline) -> serde_json::Value {
        self.bad
            .iter()
            .map(|(i, e)| {
                let s = &pipeline.sources[*i];
                json!({ "source": s.name, "error": e.to_string(), "on_bad_file": s.on_bad_file })
            })
            .collect()
    }
}

/// Reads and validates every file of every source of `pipeline` (rows dated after `until`
/// quarantined) into a staging folder in the lake; nothing in the lake changes yet. A bad file
/// is kept aside, not the end of the reading.
fn read_sources(pipeline: &Pipeline, until: NaiveDate) -> Result<Inputs, Failure> {
    let lake_root = exhibits_core::pipeline::normalize(&pipeline.lake_dir);
    let staging = Staging::in_lake(&lake_root)?;
    let mut inputs = Inputs { reads: Vec::new(), bad: Vec::new() };
    for (i, source) in pipeline.sources.iter().enumerate() {
        let files = exhibits_ingest::source_files(source)?;
        // A (date, id) delivered by two files of the source is kept from the first: the lake's
        // other files of the source, then this run's in name order.
        let names: Vec<String> =
            files.iter().filter_map(|f| f.file_name().map(|f| f.to_string_lossy().into_owned())).collect();
        let mut keys = Keys::in_lake(&lake_root, &source.name, &names);
        for file in files {
            let one = Source { path: file, until: Some(until), ..source.clone() };
            match exhibits_ingest::read_source_in(&one, &staging, &mut keys) {
                Ok(read) => {
                    let r = &read.report;
                    tracing::info!(source = %r.source, rows = r.rows_read, accepted = r.accepted, rejected = r.rejected, encoding = %r.encoding, "read {}", r.file.display());
                    if let Some(first) = read.first_rejected() {
                        tracing::warn!(
                            "{}: {} rows quarantined; first at line {}{}: {}",
                            r.file.display(),
                            r.rejected,
                            first.line,
                            first.column.as_ref().map(|c| format!(", column {c}")).unwrap_or_default(),
                            first.reason
                        );
                    }
                    inputs.reads.push((i, read));
                }
                Err(e @ IngestError::BadFile { .. }) => {
                    tracing::error!(source = %source.name, "{e}");
                    inputs.bad.push((i, e));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(inputs)
}

/// The pipeline's lake, locked for this run.
fn open_lake(pipeline: &Pipeline, as_of: NaiveDate) -> Result<(Lake, LakeLock), IngestError> {
    let lake = Lake::open(&exhibits_core::pipeline::normalize(&pipeline.lake_dir))?;
    let lock = lake.lock(&format!("pipeline {}, as-of {as_of}", pipeline.name))?;
    Ok((lake, lock))
}

/// Stores every file read in the lake; what changed is logged and returned for the summary.
async fn store(lake: &Lake, inputs: &Inputs) -> Result<serde_json::Value, IngestError> {
    let mut restated = Vec::new();
    for (_, read) in &inputs.reads {
        let r = &read.report;
        match lake.store(read).await? {
            Stored::Unchanged => tracing::info!("{}: already in the lake, unchanged", r.file.display()),
            Stored::New | Stored::Recut => {}
            Stored::Restated(x) => {
                tracing::warn!(
                    "{}: restated: {} rows ({:?}..{:?}) replaced by {} rows ({:?}..{:?})",
                    r.file.display(),
                    x.old_rows,
                    x.old_dates.0,
                    x.old_dates.1,
                    x.new_rows,
                    x.new_dates.0,
                    x.new_dates.1
                );
                restated.push(json!({ "source": r.source, "file": r.file, "restatement": x }));
            }
        }
    }
    Ok(restated.into())
}

/// One as-of date: check the sources reach it, store them in the lake (`store`: the first date
/// of the invocation), build the models, publish.
async fn run_one(
    pipeline: &Pipeline,
    as_of: NaiveDate,
    selectors: &[String],
    inputs: &Inputs,
    first: bool,
) -> Result<serde_json::Value, Failure> {
    let mut summary = json!({ "pipeline": pipeline.name, "as_of": as_of.to_string(), "inputs": input_summary(inputs) });
    if !inputs.bad.is_empty() {
        summary["bad_files"] = inputs.bad_summary(pipeline);
    }

    // A bad file that its source does not tolerate fails the run; the other files are ingested
    // (nothing is lost), nothing is built or published.
    if let Err(failed) = bad_files_fail(pipeline, inputs, "nothing was built or published") {
        let (lake, _lock) = open_lake(pipeline, as_of).map_err(with_summary(&summary))?;
        summary["restated"] = store(&lake, inputs).await.map_err(with_summary(&summary))?;
        return Err(failed.with_summary(summary));
    }
    tracing::info!(pipeline = %pipeline.file.display(), %as_of, "run");

    // Checked before anything is written, so that a run that is too early (exit 99) leaves the
    // lake as it was.
    let expected = calendar::last_trading_day_on_or_before(as_of);
    let late = pipeline.sources.iter().enumerate().find_map(|(i, source)| {
        let reads: Vec<&ReadSource> = inputs.reads.iter().filter(|(j, _)| *j == i).map(|(_, r)| r).collect();
        // The table of the format read (told from the file for format = "auto").
        let table = reads.first().map_or(source.format.table(), |r| r.report.table.as_str());
        let latest = reads.iter().filter_map(|r| r.report.max_date).max();
        (source.requires_as_of_in(table) && latest.is_none_or(|d| d < expected)).then_some((source, latest))
    });
    if let Some((source, latest)) = late {
        let latest = latest.map_or("no rows".to_string(), |d| d.to_string());
        return Err(Failure::new(
            ExitStatus::NotReady,
            anyhow!(
                "source {} ({}) reaches {latest}, not yet the as-of trading day {expected}; nothing was done",
                source.name,
                source.path.display()
            ),
        )
        .with_summary(summary));
    }

    // Models are found and selected before the lake is touched: a broken model folder or a
    // wrong --select changes nothing.
    let (session, project, contracts) = models::open(pipeline, as_of).map_err(with_summary(&summary))?;
    let selection = select(pipeline, &project, &contracts, selectors).map_err(with_summary(&summary))?;

    // One run at a time per lake: held until this run has published (dropped on return).
    let (lake, _lock) = open_lake(pipeline, as_of).map_err(with_summary(&summary))?;
    if first {
        summary["restated"] = store(&lake, inputs).await.map_err(with_summary(&summary))?;
    }
    models::attach_lake(&session, &lake).map_err(with_summary(&summary))?;
    let build = session.build(&project, Some(&selection.run)).await.map_err(with_summary(&summary))?;
    tracing::info!(models = build.tables.len(), "built");

    // A dataset is withheld when a data test that reads it returned rows, or its data breaks
    // its contract; the other datasets are still published.
    let mut withheld: Vec<(String, String)> = Vec::new();
    for f in &build.failed_tests {
        for g in f.guards.iter().filter(|g| selection.publish.contains(g)) {
            withheld.push((
                g.clone(),
                format!("data test {} ({}) returned {} rows:\n{}", f.test, f.file.display(), f.rows, f.sample),
            ));
        }
    }
    for name in &selection.publish {
        let (schema, batches) = build.get(name).expect("every published dataset was built");
        if let Some(declared) = contracts.get(name) {
            let problems = declared.data_problems(schema, batches);
            if !problems.is_empty() {
                withheld.push((
                    name.clone(),
                    format!("breaks its contract in {}:\n  {}", declared.file.display(), problems.join("\n  ")),
                ));
            }
        }
    }
    for (dataset, why) in &withheld {
        tracing::error!("not publishing {dataset}: {why}");
    }

    let publisher = Publisher::open(&pipeline.publish.url).map_err(with_summary(&summary))?;
    let datasets: Vec<Dataset> = selection
        .publish
        .iter()
        .filter(|name| !withheld.iter().any(|(w, _)| w == *name))
        .map(|name| {
            let (schema, batches) = build.get(name).expect("every published dataset was built");
            let model = project.model(name).expect("every published dataset is a model");
            let contract = contracts.get(name).map(|d| &d.contract);
            let columns: serde_json::Map<String, serde_json::Value> = contract
                .map(|c| {
                    c.columns
                        .iter()
                        .filter_map(|col| Some((col.name.clone(), col.description.clone()?.into())))
                        .collect()
                })
                .unwrap_or_default();
            let metadata = json!({
                "dataset": name,
                "pipeline": pipeline.name,
                "as_of": as_of.to_string(),
                "model_file": model.file.strip_prefix(&pipeline.models_dir).unwrap_or(&model.file),
                "description": contract.and_then(|c| c.description.clone()),
                "conventions": model.header(),
                "columns": columns,
            });
            Dataset { name, schema: schema.clone(), batches, metadata }
        })
        .collect();
    let withheld_json: serde_json::Value =
        withheld.iter().map(|(d, why)| json!({ "dataset": d, "reason": why })).collect();
    let info = RunInfo {
        pipeline: &pipeline.name,
        as_of,
        inputs: summary["inputs"].clone(),
        withheld: withheld_json.clone(),
        keep_last: pipeline.publish.keep_last,
    };
    let published = publisher.publish(info, &datasets).await.map_err(with_summary(&summary))?;
    let manifest = &published.manifest;
    if !published.latest_advanced {
        tracing::info!("latest.json still points at a later as-of date than {as_of} (a backfill)");
    }
    if !published.removed_as_of.is_empty() {
        tracing::info!(
            keep_last = pipeline.publish.keep_last,
            "retention removed as-of dates {:?}",
            published.removed_as_of
        );
    }
    summary["latest_advanced"] = published.latest_advanced.into();
    summary["removed_as_of"] = published.removed_as_of.iter().map(|d| d.to_string()).collect::<Vec<_>>().into();
    for ds in &manifest.datasets {
        tracing::info!("published {:>7} rows  {}/{}", ds.rows, publisher.url(), ds.files[0]);
    }
    summary["publish"] = publisher.url().into();
    summary["manifest"] = format!("{}/manifests/as_of={as_of}.json", publisher.url()).into();
    summary["datasets"] =
        manifest.datasets.iter().map(|d| (d.name.clone(), json!(d.rows))).collect::<serde_json::Map<_, _>>().into();
    if !withheld.is_empty() {
        summary["withheld"] = withheld_json;
        let names: Vec<&str> = withheld.iter().map(|(d, _)| d.as_str()).collect();
        return Err(Failure::new(
            ExitStatus::DataError,
            anyhow!("datasets withheld from publishing: {}", names.join(", ")),
        )
        .with_summary(summary));
    }
    Ok(summary)
}
