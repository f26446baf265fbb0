//! One publish contract, run against each kind of target: a local folder, an S3-compatible
//! server (moto) and Azure Blob Storage (Azurite), both on 127.0.0.1 (see `servers`). What is
//! published is read back by clients that share no code with `exhibits`
//! (`tests/readers/store_check.py`: boto3, the Azure SDK, pyarrow and DuckDB).
//!
//! The contract: put and listing (the store holds exactly the files the manifests list, each
//! with its sha256, readable with the manifest's row counts and types), multipart uploads for
//! data files over 8 MiB, re-publish (byte-identical, same keys), conditional put of
//! `latest.json` (a publisher that lost a race fails with exit 3 and does not move `latest`
//! back), backfill (`latest` keeps the later date) and retention (`keep_last`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::servers::{AZURITE_KEY, Azurite, S3_SECRET, S3Server};
use crate::support::{
    KillOnDrop, Outcome, copy_dir, gen_demo, outcome, python_env, repo, run_python, without_engine, write_nightly,
};

/// Bytes per part of a multipart upload (the publisher's threshold).
const PART: u64 = 8 * 1024 * 1024;

pub(crate) enum Target {
    Local(PathBuf),
    S3(S3Server),
    Azure(Azurite),
}

impl Target {
    fn url(&self) -> String {
        match self {
            Target::Local(dir) => dir.display().to_string(),
            Target::S3(_) => "s3://exhibits/contract".into(),
            Target::Azure(_) => "az://exhibits/contract".into(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Target::Local(_) => Vec::new(),
            Target::S3(s) => s.env(),
            Target::Azure(a) => a.env(),
        }
    }

    /// What the independent clients see (one JSON object, see store_check.py).
    pub(crate) fn inspect(&self) -> serde_json::Value {
        let script = repo().join("tests/readers/store_check.py");
        let mut args = vec![script.display().to_string()];
        let (python, rest): (PathBuf, Vec<String>) = match self {
            Target::Local(dir) => (python_env(), vec!["local".into(), dir.display().to_string()]),
            Target::S3(s) => {
                (s.python.clone(), vec!["s3".into(), s.endpoint.clone(), "exhibits".into(), "contract".into()])
            }
            Target::Azure(a) => (
                a.python.clone(),
                ["az", &a.endpoint, "exhibits", "contract", "devstoreaccount1", AZURITE_KEY].map(String::from).to_vec(),
            ),
        };
        args.extend(rest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_str(&run_python(&python, &args)).unwrap()
    }

    /// Starts `exhibits run` against the target (not waiting for it).
    pub(crate) fn spawn(&self, project: &Path, pipeline: &str, as_of: &str, env: &[(&str, &str)]) -> KillOnDrop {
        let child = Command::new(env!("CARGO_BIN_EXE_exhibits"))
            .args(["run", "--pipeline", pipeline, "--as-of", as_of, "--publish", &self.url()])
            .current_dir(project)
            .envs(self.env())
            .envs(env.iter().copied())
            .env("EXHIBITS_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the exhibits binary runs");
        KillOnDrop(child)
    }

    /// Runs `exhibits run` against the target and returns what it did.
    fn run(&self, project: &Path, pipeline: &str, as_of: &str, env: &[(&str, &str)]) -> Outcome {
        finish(self.spawn(project, pipeline, as_of, env))
    }
}

/// Waits for a spawned run; its output must never contain a secret.
pub(crate) fn finish(child: KillOnDrop) -> Outcome {
    let o = outcome(child.output());
    assert!(!o.stdout.contains(S3_SECRET) && !o.stderr.contains(S3_SECRET), "a credential was printed");
    o
}

fn ok(o: Outcome) -> Outcome {
    assert_eq!(o.code, 0, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    o
}

/// Waits until process `pid` is stopped (SIGSTOP).
pub fn wait_stopped(pid: u32) {
    let started = std::time::Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T')) {
            return;
        }
        assert!(started.elapsed().as_secs() < 120, "process {pid} never reached its failpoint: {stat}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A project with the demo drop, the repository's models plus `big` (a data file of about
/// 14 MB, over the multipart threshold), and two pipelines with their own lakes that publish
/// to the same target with `keep_last = 2`: `nightly.toml` and `rival.toml`.
fn contract_project(dir: &Path) {
    gen_demo(dir);
    copy_dir(&repo().join("sql"), &dir.join("sql"));
    // 400,000 rows of hex SHA-256 strings, which zstd cannot shrink much.
    std::fs::write(
        dir.join("sql/exhibits/big.sql"),
        "select n, encode(sha256(cast(n as varchar)), 'hex') as h\nfrom (select unnest(range(1, 400001)) as n)\norder by n\n",
    )
    .unwrap();
    let nightly = write_nightly(dir, |t| {
        without_engine(t)
            .replace(&format!("{:?}", repo().join("sql")), &format!("{:?}", dir.join("sql")))
            .replace("\"rolling_extremes\",\n]", "\"rolling_extremes\", \"big\",\n]")
            .replace("[publish]\n", "[publish]\nkeep_last = 2\n")
    });
    let text = std::fs::read_to_string(nightly).unwrap();
    assert!(text.contains("keep_last = 2") && text.contains("\"big\""), "the edits applied");
    std::fs::write(dir.join("rival.toml"), text.replace("var/lake", "var/rival-lake")).unwrap();
}

/// Asserts what readers see: `latest` names `latest`, the store holds exactly the files of the
/// manifests of `dates` (one per dataset and date), the manifests and `latest.json`; every file of
/// the latest manifest has its sha256 and reads with its row count and types; and data files
/// over 8 MiB went up in parts where the store records them.
fn assert_complete(target: &Target, view: &serde_json::Value, latest: &str, dates: &[&str]) {
    assert_eq!(view["latest"]["as_of"], latest, "{view}");
    let datasets = view["datasets"].as_object().unwrap();
    // The nightly's 10 datasets without the engine's (support::without_engine), and `big`.
    assert_eq!(datasets.len(), 11, "{view}");
    for (name, d) in datasets {
        assert_eq!((d["listed"].as_bool(), d["sha_ok"].as_bool()), (Some(true), Some(true)), "{name}: {d}");
        assert_eq!(d["problems"], serde_json::json!([]), "{name}");
        let bytes = d["bytes"].as_u64().unwrap();
        match (target, d["parts"].as_u64()) {
            (Target::Local(_), None) => {}
            (_, Some(parts)) => assert_eq!(parts, bytes.div_ceil(PART).max(1), "{name}: {bytes} bytes"),
            (_, None) => panic!("{name}: parts unknown"),
        }
    }
    assert!(datasets["big"]["bytes"].as_u64().unwrap() > PART, "big is over the multipart threshold");
    let keys: Vec<&str> = view["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    let mut expected_dates: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("manifests/as_of=")?.strip_suffix(".json"))
        .map(String::from)
        .collect();
    expected_dates.sort();
    assert_eq!(expected_dates, dates, "manifests in the store: {keys:?}");
    for date in dates {
        let files = keys.iter().filter(|k| k.contains(&format!("/as_of={date}/"))).count();
        assert_eq!(files, datasets.len(), "one file per dataset for {date}: {keys:?}");
    }
    assert_eq!(keys.len(), dates.len() * (datasets.len() + 1) + 1, "nothing else in the store: {keys:?}");
}

fn contract(target: Target) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path();
    contract_project(project);

    // Put and listing, multipart.
    ok(target.run(project, "nightly.toml", "2024-12-27", &[]));
    let first = target.inspect();
    assert_complete(&target, &first, "2024-12-27", &["2024-12-27"]);
    assert_eq!(
        first["readers"],
        serde_json::json!(if matches!(target, Target::Azure(_)) { vec!["pyarrow"] } else { vec!["pyarrow", "duckdb"] })
    );

    // Re-publish: the same keys (files are named by their content), latest updated in place.
    ok(target.run(project, "nightly.toml", "2024-12-27", &[]));
    let again = target.inspect();
    assert_eq!((&again["keys"], &again["datasets"]), (&first["keys"], &first["datasets"]));

    // Conditional put: this run stops right before writing latest.json (after its data files
    // and manifest); meanwhile a rival pipeline publishes a later date; when this run goes on,
    // its write of the version of latest.json it read fails, and latest stays with the rival.
    let latest_write = (first["datasets"].as_object().unwrap().len() + 2).to_string() + ":stop";
    let paused = target.spawn(project, "nightly.toml", "2024-12-30", &[("EXHIBITS_FAILPOINT", &latest_write)]);
    wait_stopped(paused.0.id());
    ok(target.run(project, "rival.toml", "2024-12-31", &[]));
    Command::new("kill").args(["-CONT", &paused.0.id().to_string()]).status().unwrap();
    let lost = finish(paused);
    assert_eq!(lost.code, 3, "stdout:\n{}\nstderr:\n{}", lost.stdout, lost.stderr);
    assert!(lost.error().contains("latest.json changed while this run was publishing"), "{}", lost.error());
    assert_eq!(target.inspect()["latest"]["as_of"], "2024-12-31");

    // Backfill and retention: re-running the lost date completes without moving latest back; the
    // store keeps the two newest dates (the rival's run removed 2024-12-27).
    let backfill = ok(target.run(project, "nightly.toml", "2024-12-30", &[]));
    assert_eq!(backfill.summary["latest_advanced"], false, "{}", backfill.stdout);
    assert_complete(&target, &target.inspect(), "2024-12-31", &["2024-12-30", "2024-12-31"]);
}

#[test]
fn the_publish_contract_holds_on_a_local_folder() {
    let dir = tempfile::tempdir().unwrap();
    contract(Target::Local(dir.path().join("published")));
}

#[test]
fn the_publish_contract_holds_on_s3() {
    contract(Target::S3(S3Server::start()));
}

#[test]
fn the_publish_contract_holds_on_azure_blob_storage() {
    contract(Target::Azure(Azurite::start()));
}
