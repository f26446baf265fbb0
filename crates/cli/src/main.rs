//! `exhibits`: the command line of the nightly exhibit pipeline.
//!
//! Every subcommand lives in its own module. Logs go to stderr; the last line on stdout is one
//! JSON object summarising the command, for schedulers. Exit codes (SPEC §6): 0 success, 1 data
//! or model error, 2 usage or configuration error, 3 transient infrastructure error, 99 the
//! inputs for the as-of date are not there yet.

mod bench_cmd;
mod check_cmd;
mod failure;
mod gen_cmd;
mod models;
mod run_cmd;
mod test_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::failure::Failure;

#[derive(Parser)]
#[command(name = "exhibits", version, about = "Equity-index vendor files → published research exhibits")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write a deterministic synthetic vendor drop (a Russell-3000-like universe).
    Gen(gen_cmd::GenArgs),
    /// Ingest → models → publish for one as-of date or a backfill range.
    Run(run_cmd::RunArgs),
    /// The ingest stage alone: read, validate and store every source's files in the lake.
    Ingest(run_cmd::IngestArgs),
    /// Parse and plan every model, contract and data test without data; validate pipelines.
    Check(check_cmd::CheckArgs),
    /// Run the SQL tests (.slt) of the models; --complete rewrites their expected output.
    Test(test_cmd::TestArgs),
    /// Run the benchmark workload (../shared/bench/WORKLOAD.md): DATA OUT --step ingest|compute|report|all.
    Bench(bench_cmd::BenchArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let is_help =
                matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion);
            let _ = e.print();
            return ExitCode::from(if is_help { 0 } else { 2 });
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EXHIBITS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let started = std::time::Instant::now();
    let (command, result) = match cli.command {
        Command::Gen(args) => ("gen", gen_cmd::run(args)),
        Command::Run(args) => ("run", runtime.block_on(run_cmd::run(args))),
        Command::Ingest(args) => ("ingest", runtime.block_on(run_cmd::ingest(args))),
        Command::Check(args) => ("check", runtime.block_on(check_cmd::run(args))),
        Command::Test(args) => ("test", runtime.block_on(test_cmd::run(args))),
        Command::Bench(args) => ("bench", runtime.block_on(bench_cmd::run(args))),
    };
    let seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let (mut summary, status) = match result {
        Ok(summary) => (summary, exhibits_core::ExitStatus::Success),
        Err(Failure { status, error, mut summary }) => {
            tracing::error!("{error:#}");
            summary["error"] = serde_json::Value::String(format!("{error:#}"));
            (summary, status)
        }
    };
    let fields = summary.as_object_mut().expect("summaries are JSON objects");
    fields.insert("command".into(), command.into());
    fields.insert("status".into(), status.as_str().into());
    fields.insert("exit_code".into(), status.code().into());
    fields.insert("seconds".into(), seconds.into());
    // Keys in a fixed order: command and status first, for people reading logs.
    let mut ordered = serde_json::Map::new();
    for key in ["command", "status", "exit_code"] {
        if let Some(v) = fields.remove(key) {
            ordered.insert(key.into(), v);
        }
    }
    ordered.append(fields);
    println!("{}", serde_json::Value::Object(ordered));
    ExitCode::from(status.code())
}
