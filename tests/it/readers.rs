//! What the README tells users to run to open the outputs works: DuckDB and pandas (pyarrow),
//! installed by `scripts/python-env`, read a published run with the types we promise.

use std::process::Command;

use crate::support::{demo_project, exhibits_ok, repo};

#[test]
fn readme_reader_snippets_open_a_published_run() {
    let dir = tempfile::tempdir().unwrap();
    demo_project(dir.path());
    for as_of in ["2024-12-30", "2024-12-31"] {
        exhibits_ok(dir.path(), &["run", "--pipeline", "nightly.toml", "--as-of", as_of], 0);
    }

    let env = Command::new(repo().join("scripts/python-env")).output().expect("scripts/python-env runs");
    assert!(env.status.success(), "{}", String::from_utf8_lossy(&env.stderr));
    let python = String::from_utf8(env.stdout).unwrap().trim().to_string();
    let out = Command::new(python)
        .arg(repo().join("tests/readers/readme_snippets.py"))
        .arg(dir.path().join("var/publish"))
        .arg("2024-12-31")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen,
        serde_json::json!({
            "duckdb_rows": 10, "duckdb_as_of": "DATE", "duckdb_date": "DATE", "duckdb_rank": "BIGINT",
            "pandas_rows": 4, "pandas_as_of": "2024-12-31",
        })
    );
}
