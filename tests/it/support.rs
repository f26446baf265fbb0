//! Helpers: running the binary, locating the repository and the shared data, reading Parquet.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use chrono::NaiveDate;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// `../shared/data/real` beside the repository (or `$EXHIBITS_SHARED_DIR/data/real`).
pub fn real_data() -> PathBuf {
    let shared = std::env::var_os("EXHIBITS_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"));
    let dir = shared.join("data/real");
    assert!(dir.is_dir(), "the real data folder {} is missing: clone the repository beside shared/", dir.display());
    dir.canonicalize().unwrap()
}

/// What a run of the binary did.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The last stdout line, parsed: the JSON summary.
    pub summary: serde_json::Value,
}

impl Outcome {
    /// The error text of a failed run, from the summary.
    pub fn error(&self) -> &str {
        self.summary["error"].as_str().unwrap_or_default()
    }
}

/// Runs `exhibits args…` in `cwd`.
pub fn exhibits(cwd: &Path, args: &[&str]) -> Outcome {
    exhibits_env(cwd, args, &[])
}

/// Runs `exhibits args…` in `cwd` with extra environment variables.
pub fn exhibits_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_exhibits"))
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .env("EXHIBITS_LOG", "info")
        .env_remove("EXHIBITS_AS_OF")
        .env_remove("EXHIBITS_PIPELINE")
        .env_remove("EXHIBITS_LAKE")
        .env_remove("EXHIBITS_PUBLISH_URL")
        .output()
        .expect("the exhibits binary runs");
    outcome(out)
}

/// What a finished run of the binary printed, with its JSON summary parsed.
pub fn outcome(out: std::process::Output) -> Outcome {
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let summary = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(serde_json::Value::Null);
    Outcome { code: out.status.code().unwrap_or(-1), stdout, stderr, summary }
}

/// Runs and asserts the exit code, showing everything on failure.
pub fn exhibits_ok(cwd: &Path, args: &[&str], code: i32) -> Outcome {
    let o = exhibits(cwd, args);
    assert_eq!(o.code, code, "exhibits {args:?} exited {}\nstdout:\n{}\nstderr:\n{}", o.code, o.stdout, o.stderr);
    o
}

/// A pipeline file's text with its relative folders re-pointed, written into `dir`.
pub fn write_pipeline(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The one Parquet file of a published dataset partition (named by its content).
pub fn partition_file(publish: &Path, dataset: &str, as_of: &str) -> PathBuf {
    let dir = publish.join(dataset).join(format!("as_of={as_of}"));
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    assert_eq!(files.len(), 1, "one file in {}: {files:?}", dir.display());
    files.into_iter().next().unwrap()
}

/// Generates the demo drop (scale s, seed 42) into `dir/data`.
pub fn gen_demo(dir: &Path) {
    exhibits_ok(dir, &["gen", "--scale", "s", "--out", dir.join("data").to_str().unwrap()], 0);
}

/// A scratch project in `dir`: the demo drop in `dir/data` and `dir/nightly.toml` pointing at it,
/// without the equal-weight engine's input (see [`without_engine`]).
pub fn demo_project(dir: &Path) {
    gen_demo(dir);
    write_nightly(dir, without_engine);
}

/// The nightly pipeline's text without the constituents source and the engine's datasets: for
/// tests about ingest, publishing and scheduling, which need not compute indexes from 0.76
/// million constituent rows on every run (the engine has its own tests, engine.rs, and the
/// nightly demo test runs the whole pipeline).
pub fn without_engine(text: String) -> String {
    let source = "[[sources]]\n# Daily constituents";
    let datasets = "    \"constituent_index\", \"rebalance_weights\", \"rebalance_turnover\", \"cap_vs_equal\", \"cap_vs_equal_periods\", \"membership_changes\",\n";
    let start = text.find(source).expect("the nightly pipeline has the constituents source");
    let end = start + text[start..].find("\n\n").expect("a blank line after the source") + 2;
    let out = format!("{}{}", &text[..start], &text[end..]).replace(datasets, "");
    assert!(
        !out.contains("canonical_constituents") && !out.contains("\"constituent_index\""),
        "the engine is out of the pipeline:\n{out}"
    );
    out
}

/// Writes `dir/nightly.toml`: the repository's nightly pipeline, reading the repository's `sql/`
/// and a drop generated into `dir/data`, with its lake and publish folder under `dir/var`;
/// `edit` changes the text further.
pub fn write_nightly(dir: &Path, edit: impl Fn(String) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines/nightly.toml"))
        .unwrap()
        .replace("\"../sql\"", &format!("{:?}", repo().join("sql")))
        .replace("../data/demo", &dir.join("data").display().to_string())
        .replace("../var", &dir.join("var").display().to_string());
    write_pipeline(dir, "nightly.toml", &edit(text))
}

/// Reads one published dataset partition into one batch.
pub fn read_dataset(publish: &Path, dataset: &str, as_of: &str) -> RecordBatch {
    let file = partition_file(publish, dataset, as_of);
    let reader = ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display())),
    )
    .unwrap()
    .build()
    .unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// The `exhibits` metadata (JSON) of one published dataset partition.
pub fn dataset_metadata(publish: &Path, dataset: &str, as_of: &str) -> serde_json::Value {
    let file = partition_file(publish, dataset, as_of);
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file).unwrap()).unwrap();
    serde_json::from_str(&builder.schema().metadata()["exhibits"]).unwrap()
}

/// A row of a batch as column name → value text or number, for readable assertions.
pub struct Rows {
    pub batch: RecordBatch,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }

    fn col(&self, name: &str) -> &dyn Array {
        self.batch
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.batch.schema()))
            .as_ref()
    }

    pub fn f64(&self, name: &str, row: usize) -> Option<f64> {
        let c = self.col(name).as_primitive::<Float64Type>();
        c.is_valid(row).then(|| c.value(row))
    }

    pub fn i64(&self, name: &str, row: usize) -> i64 {
        self.col(name).as_primitive::<Int64Type>().value(row)
    }

    pub fn date(&self, name: &str, row: usize) -> NaiveDate {
        let c = self.col(name);
        assert_eq!(c.data_type(), &DataType::Date32, "{name} is published as Date32");
        let days = c.as_primitive::<Date32Type>().value(row);
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(days.into())
    }

    pub fn text(&self, name: &str, row: usize) -> String {
        self.col(name).as_string::<i32>().value(row).to_string()
    }

    /// Row index by the value of a date column.
    pub fn by_date(&self, name: &str) -> HashMap<NaiveDate, usize> {
        (0..self.len()).map(|i| (self.date(name, i), i)).collect()
    }
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Copies a folder recursively (a scratch copy of `sql/` or `tests/sql/`).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The Python of `scripts/python-env` (created on first use): DuckDB, pyarrow, boto3, Azure SDK.
pub fn python_env() -> PathBuf {
    let out = Command::new(repo().join("scripts/python-env")).output().expect("scripts/python-env runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something listens on 127.0.0.1:`port`.
pub fn wait_for_port(port: u16, what: &str) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{what} did not listen on {port}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `python args…` and returns its stdout, failing the test on error.
pub fn run_python(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python).env("PYTHONFAULTHANDLER", "1").args(args).output().unwrap();
    assert!(out.status.success(), "python {args:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A test's child process (a server, a paused run), killed (and reaped) when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// Waits for the process to exit and collects its piped stdout and stderr.
    pub fn output(mut self) -> std::process::Output {
        use std::io::Read;
        let mut stderr_pipe = self.0.stderr.take();
        let stderr = std::thread::spawn(move || {
            let mut buf = Vec::new();
            stderr_pipe.as_mut().map(|p| p.read_to_end(&mut buf));
            buf
        });
        let mut stdout = Vec::new();
        self.0.stdout.take().map(|mut p| p.read_to_end(&mut stdout));
        let status = self.0.wait().unwrap();
        std::process::Output { status, stdout, stderr: stderr.join().unwrap() }
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
