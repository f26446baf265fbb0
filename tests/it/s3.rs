//! Publishing to `s3://` through object_store, against a real S3-compatible server (moto's
//! server mode, installed by `scripts/python-env`) started on 127.0.0.1 by the test itself, and
//! read back by independent clients (pyarrow, boto3).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::{
    KillOnDrop, copy_dir, demo_project, free_port, gen_demo, python_env, repo, run_python, wait_for_port, write_nightly,
};

/// A moto server on a free loopback port, stopped when dropped.
struct S3Server {
    child: KillOnDrop,
    endpoint: String,
    python: PathBuf,
}

impl S3Server {
    fn start() -> S3Server {
        let python = python_env();
        let port = free_port();
        let child = Command::new(python.with_file_name("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for_port(port, "moto_server");
        S3Server { child: KillOnDrop(child), endpoint: format!("http://127.0.0.1:{port}"), python }
    }

    fn python(&self, args: &[&str]) -> String {
        run_python(&self.python, args)
    }

    fn create_bucket(&self, bucket: &str) {
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='{bucket}')",
            self.endpoint
        );
        self.python(&["-c", &code]);
    }

    /// Runs `exhibits args…` with the server's endpoint and credentials (and `env`) in the
    /// environment; returns the exit code and everything it printed.
    fn exhibits_with(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_exhibits"))
            .args(args)
            .current_dir(cwd)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret-never-printed")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(!all.contains("test-secret-never-printed"), "credentials must never be printed:\n{all}");
        (out.status.code().unwrap_or(-1), all)
    }

    /// Runs `exhibits args…` and asserts it succeeds.
    fn exhibits(&self, cwd: &Path, args: &[&str]) -> String {
        let (code, all) = self.exhibits_with(cwd, args, &[]);
        assert_eq!(code, 0, "exhibits {args:?} failed:\n{all}");
        all
    }

    /// Pauses (SIGSTOP) or resumes (SIGCONT) the server: unreachable, but its state is kept.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.child.0.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// What independent clients read back (tests/readers/s3_check.py).
    fn check(&self, prefix: &str, as_of: &str) -> serde_json::Value {
        let script = repo().join("tests/readers/s3_check.py");
        serde_json::from_str(&self.python(&[script.to_str().unwrap(), &self.endpoint, "exhibits", prefix, as_of]))
            .unwrap()
    }
}

#[test]
fn publishes_to_s3_and_independent_clients_read_it_back() {
    let server = S3Server::start();
    server.create_bucket("exhibits");
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    let run = ["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-31", "--publish", "s3://exhibits/nightly"];

    let output = server.exhibits(dir.path(), &run);
    assert!(!output.contains("test-secret-never-printed"), "credentials must never be printed");
    let check = |py: &S3Server| -> serde_json::Value {
        let script = repo().join("tests/readers/s3_check.py");
        serde_json::from_str(&py.python(&[script.to_str().unwrap(), &py.endpoint, "exhibits", "nightly", "2024-12-31"]))
            .unwrap()
    };
    let first = check(&server);
    assert_eq!(first["rows"], 10);
    assert_eq!(first["as_of_type"], "date32[day]");
    assert_eq!(first["latest"]["as_of"], "2024-12-31");
    let keys: Vec<&str> = first["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(
        keys.contains(&"nightly/latest.json") && keys.contains(&"nightly/manifests/as_of=2024-12-31.json"),
        "{keys:?}"
    );
    assert!(keys.iter().all(|k| k.starts_with("nightly/")), "everything under the URL's prefix: {keys:?}");

    // Publishing the same as-of date again writes the same bytes, and no extra objects
    // (latest.json is replaced by a conditional update of the version just read).
    server.exhibits(dir.path(), &run);
    let second = server.check("nightly", "2024-12-31");
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(first["keys"], second["keys"]);

    // A backfill of an earlier date adds its partitions but latest.json keeps the later date.
    let backfill = ["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-30", "--publish", "s3://exhibits/nightly"];
    let output = server.exhibits(dir.path(), &backfill);
    assert!(output.contains("\"latest_advanced\":false"), "{output}");
    let third = server.check("nightly", "2024-12-31");
    assert_eq!(third["latest"]["as_of"], "2024-12-31");
    assert!(third["keys"].as_array().unwrap().iter().any(|k| k == "nightly/manifests/as_of=2024-12-30.json"));
}

#[test]
fn an_unreachable_store_is_retried_then_exits_3_and_latest_is_untouched() {
    let server = S3Server::start();
    server.create_bucket("exhibits");
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    let run =
        |as_of: &'static str| ["run", "--pipeline", "nightly.toml", "--as-of", as_of, "--publish", "s3://exhibits/n"];
    server.exhibits(dir.path(), &run("2024-12-30"));

    // The server stops answering in the middle of the job: requests time out, are retried with
    // backoff, and the run ends with exit 3 (worth retrying).
    server.signal("-STOP");
    let short =
        [("EXHIBITS_STORE_TIMEOUT_SECS", "1"), ("EXHIBITS_STORE_RETRY_SECS", "3"), ("EXHIBITS_STORE_MAX_RETRIES", "2")];
    let (code, output) = server.exhibits_with(dir.path(), &run("2024-12-31"), &short);
    server.signal("-CONT");
    assert_eq!(code, 3, "{output}");
    assert!(output.contains("\"status\":\"transient_error\"") && output.contains("retries"), "{output}");

    // Readers following latest.json still see the previous complete run; a re-run completes.
    assert_eq!(server.check("n", "2024-12-30")["latest"]["as_of"], "2024-12-30");
    server.exhibits(dir.path(), &run("2024-12-31"));
    assert_eq!(server.check("n", "2024-12-31")["latest"]["as_of"], "2024-12-31");
}

/// A data file over 8 MiB is uploaded in parts: S3 marks a multipart object's ETag with `-<parts>`,
/// and the object's bytes are the ones the manifest lists.
#[test]
fn large_data_files_are_uploaded_in_parts() {
    let server = S3Server::start();
    server.create_bucket("exhibits");
    let dir = tempfile::tempdir().unwrap();
    gen_demo(dir.path());
    copy_dir(&repo().join("sql"), &dir.path().join("sql"));
    // 400,000 rows of hex SHA-256 strings: about 14 MB of Parquet, which zstd cannot shrink much.
    std::fs::write(
        dir.path().join("sql/exhibits/big.sql"),
        "select n, encode(sha256(cast(n as varchar)), 'hex') as h\nfrom (select unnest(range(1, 400001)) as n)\norder by n\n",
    )
    .unwrap();
    write_nightly(dir.path(), |t| {
        t.replace(&format!("{:?}", repo().join("sql")), &format!("{:?}", dir.path().join("sql")))
            .replace("\"rolling_extremes\",\n]", "\"rolling_extremes\", \"big\",\n]")
    });
    let output = server.exhibits(
        dir.path(),
        &["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-31", "--publish", "s3://exhibits/big"],
    );
    assert!(output.contains("uploaded in parts"), "{output}");

    let code = format!(
        "import boto3, hashlib, json\n\
         s3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n\
         manifest = json.loads(s3.get_object(Bucket='exhibits', Key='big/manifests/as_of=2024-12-31.json')['Body'].read())\n\
         big = next(d for d in manifest['datasets'] if d['name'] == 'big')\n\
         obj = s3.get_object(Bucket='exhibits', Key='big/' + big['files'][0])\n\
         body = obj['Body'].read()\n\
         print(json.dumps({{'etag': obj['ETag'], 'bytes': len(body), 'manifest_bytes': big['bytes'], 'rows': big['rows'],\n\
                           'sha_ok': hashlib.sha256(body).hexdigest() == big['sha256']}}))",
        server.endpoint
    );
    let seen: serde_json::Value = serde_json::from_str(&server.python(&["-c", &code])).unwrap();
    let bytes = seen["bytes"].as_u64().unwrap();
    assert!(bytes > 8 * 1024 * 1024, "{seen}");
    let parts = bytes.div_ceil(8 * 1024 * 1024);
    assert!(seen["etag"].as_str().unwrap().ends_with(&format!("-{parts}\"")), "a multipart ETag: {seen}");
    assert_eq!((seen["sha_ok"].as_bool(), seen["rows"].as_u64()), (Some(true), Some(400_000)), "{seen}");
    assert_eq!(seen["bytes"], seen["manifest_bytes"]);
}
