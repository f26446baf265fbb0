//! An S3 outage in the middle of a publish, against a real S3-compatible server (moto, see
//! `servers`). The publish contract itself, on every kind of target, is in `store_contract`.

use std::process::{Command, Stdio};

use crate::servers::S3Server;
use crate::support::{KillOnDrop, demo_project, outcome, python_env, run_python};

/// Where `latest.json` points, read with boto3.
fn latest(server: &S3Server) -> String {
    let code = format!(
        "import boto3, json\n\
         s3 = boto3.client('s3', endpoint_url='{}', aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n\
         print(json.loads(s3.get_object(Bucket='exhibits', Key='n/latest.json')['Body'].read())['as_of'])",
        server.endpoint
    );
    run_python(&python_env(), &["-c", &code]).trim().to_string()
}

#[test]
fn an_s3_outage_mid_publish_is_retried_then_exits_3_and_latest_is_untouched() {
    let server = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    let run = |as_of: &str, env: &[(&str, &str)]| {
        let child = Command::new(env!("CARGO_BIN_EXE_exhibits"))
            .args(["run", "--pipeline", "nightly.toml", "--as-of", as_of, "--publish", "s3://exhibits/n"])
            .current_dir(dir.path())
            .envs(server.env())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        KillOnDrop(child)
    };
    let code_and_text = |child: KillOnDrop| {
        let o = outcome(child.output());
        (Some(o.code), format!("{}{}", o.stdout, o.stderr))
    };
    let (code, text) = code_and_text(run("2024-12-30", &[]));
    assert_eq!(code, Some(0), "{text}");

    // The run stops itself before its third store write (two data files are up); the server
    // stops answering; the run goes on: requests time out, are retried with backoff, and it
    // ends with exit 3 (worth retrying).
    let short = [
        ("EXHIBITS_FAILPOINT", "3:stop"),
        ("EXHIBITS_STORE_TIMEOUT_SECS", "1"),
        ("EXHIBITS_STORE_RETRY_SECS", "3"),
        ("EXHIBITS_STORE_MAX_RETRIES", "2"),
    ];
    let child = run("2024-12-31", &short);
    crate::store_contract::wait_stopped(child.0.id());
    server.signal("-STOP");
    Command::new("kill").args(["-CONT", &child.0.id().to_string()]).status().unwrap();
    let (code, text) = code_and_text(child);
    server.signal("-CONT");
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("\"status\":\"transient_error\"") && text.contains("retries"), "{text}");

    // Readers following latest.json still see the previous complete run; a re-run completes.
    assert_eq!(latest(&server), "2024-12-30");
    let (code, text) = code_and_text(run("2024-12-31", &[]));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(latest(&server), "2024-12-31");
}
