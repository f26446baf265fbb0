//! An S3 outage in the middle of a publish, against a real S3-compatible server (moto, see
//! `servers`). The publish contract itself, on every kind of target, is in `store_contract`.

use std::process::Command;

use crate::servers::S3Server;
use crate::store_contract::{Target, finish, wait_stopped};
use crate::support::demo_project;

#[test]
fn an_s3_outage_mid_publish_is_retried_then_exits_3_and_latest_is_untouched() {
    let target = Target::S3(S3Server::start());
    let Target::S3(server) = &target else { unreachable!() };
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    let latest = || target.inspect()["latest"]["as_of"].as_str().unwrap().to_string();
    let ok = |as_of: &str| {
        let o = finish(target.spawn(dir.path(), "nightly.toml", as_of, &[]));
        assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    };
    ok("2024-12-30");

    // The run stops itself before its third store write (two data files are up); the server
    // stops answering; the run goes on: requests time out, are retried with backoff, and it
    // ends with exit 3 (worth retrying).
    let short = [
        ("EXHIBITS_FAILPOINT", "3:stop"),
        ("EXHIBITS_STORE_TIMEOUT_SECS", "1"),
        ("EXHIBITS_STORE_RETRY_SECS", "3"),
        ("EXHIBITS_STORE_MAX_RETRIES", "2"),
    ];
    let child = target.spawn(dir.path(), "nightly.toml", "2024-12-31", &short);
    wait_stopped(child.0.id());
    server.signal("-STOP");
    Command::new("kill").args(["-CONT", &child.0.id().to_string()]).status().unwrap();
    let o = finish(child);
    server.signal("-CONT");
    let text = format!("{}{}", o.stdout, o.stderr);
    assert_eq!(o.code, 3, "{text}");
    assert!(text.contains("\"status\":\"transient_error\"") && text.contains("retries"), "{text}");

    // Readers following latest.json still see the previous complete run; a re-run completes.
    assert_eq!(latest(), "2024-12-30");
    ok("2024-12-31");
    assert_eq!(latest(), "2024-12-31");
}
