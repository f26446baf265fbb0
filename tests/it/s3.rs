//! Publishing to `s3://` through object_store, against a real S3-compatible server (moto's
//! server mode, installed by `scripts/python-env`) started on 127.0.0.1 by the test itself, and
//! read back by independent clients (pyarrow, boto3).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{exhibits_ok, repo, write_nightly};

/// A moto server on a free loopback port, stopped when dropped.
struct S3Server {
    child: Child,
    endpoint: String,
    python: PathBuf,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    fn start() -> S3Server {
        let env = Command::new(repo().join("scripts/python-env")).output().expect("scripts/python-env runs");
        assert!(env.status.success(), "{}", String::from_utf8_lossy(&env.stderr));
        let python = PathBuf::from(String::from_utf8(env.stdout).unwrap().trim());
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(python.with_file_name("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "moto_server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server { child, endpoint: format!("http://127.0.0.1:{port}"), python }
    }

    fn python(&self, args: &[&str]) -> String {
        let out = Command::new(&self.python).args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn create_bucket(&self, bucket: &str) {
        let code = format!(
            "import boto3; boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1').create_bucket(Bucket='{bucket}')",
            self.endpoint
        );
        self.python(&["-c", &code]);
    }

    /// Runs `exhibits args…` with the server's endpoint and credentials in the environment.
    fn exhibits(&self, cwd: &Path, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_exhibits"))
            .args(args)
            .current_dir(cwd)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test-secret-never-printed")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true")
            .output()
            .unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "exhibits {args:?} failed:\n{all}");
        all
    }
}

#[test]
fn publishes_to_s3_and_independent_clients_read_it_back() {
    let server = S3Server::start();
    server.create_bucket("exhibits");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    exhibits_ok(dir.path(), &["gen", "--scale", "s", "--out", data.to_str().unwrap()], 0);
    write_nightly(dir.path(), |t| t);
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
    let second = check(&server);
    assert_eq!(first["sha256"], second["sha256"]);
    assert_eq!(first["keys"], second["keys"]);

    // A backfill of an earlier date adds its partitions but latest.json keeps the later date.
    let backfill = ["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-30", "--publish", "s3://exhibits/nightly"];
    let output = server.exhibits(dir.path(), &backfill);
    assert!(output.contains("\"latest_advanced\":false"), "{output}");
    let third = check(&server);
    assert_eq!(third["latest"]["as_of"], "2024-12-31");
    assert!(third["keys"].as_array().unwrap().iter().any(|k| k == "nightly/manifests/as_of=2024-12-30.json"));
}
