//! `exhibits run` on the generated demo drop: what is published, re-runs, and every error path
//! a user can hit (with its exit code and message).

use std::path::{Path, PathBuf};

use crate::support::{
    Outcome, Rows, copy_dir, dataset_metadata, date, demo_project, exhibits, exhibits_env, partition_file,
    read_dataset, repo, without_engine, write_nightly,
};

/// A scratch project: a generated drop, and the repository's nightly pipeline re-pointed at it.
struct Demo {
    dir: tempfile::TempDir,
    /// Whether the pipeline keeps the equal-weight engine (constituents source and datasets).
    engine: bool,
}

impl Demo {
    fn new() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        demo_project(dir.path());
        Demo { dir, engine: false }
    }

    /// The whole nightly pipeline, equal-weight engine included.
    fn with_engine() -> Demo {
        let demo = Demo { engine: true, ..Demo::new() };
        demo.pipeline_with(|t| t);
        demo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn publish(&self) -> PathBuf {
        self.path().join("var/publish")
    }

    /// Writes `nightly.toml` from the repository's, with `edit` applied.
    fn pipeline_with(&self, edit: impl Fn(String) -> String) -> PathBuf {
        write_nightly(self.path(), |t| edit(if self.engine { t } else { without_engine(t) }))
    }

    fn run(&self, as_of: &str) -> Outcome {
        exhibits(self.path(), &["run", "--pipeline", "nightly.toml", "--as-of", as_of])
    }
}

fn assert_exit(o: &Outcome, code: i32, status: &str, error_has: &[&str]) {
    assert_eq!(o.code, code, "stdout:\n{}\nstderr:\n{}", o.stdout, o.stderr);
    assert_eq!(o.summary["status"], status, "{}", o.summary);
    assert_eq!(o.summary["exit_code"], code);
    for part in error_has {
        assert!(o.error().contains(part), "error {:?} does not mention {part:?}", o.error());
    }
}

#[test]
fn nightly_demo_publishes_exhibits_that_match_the_generated_levels() {
    let demo = Demo::with_engine();
    let run = demo.run("2024-12-31");
    assert_exit(&run, 0, "success", &[]);
    for ds in [
        "index_levels",
        "yields",
        "daily_returns",
        "largest_daily_moves",
        "relative_return",
        "yield_periods",
        "period_returns",
        "cumulative_returns",
        "rolling_extremes",
        "constituent_index",
        "rebalance_weights",
        "rebalance_turnover",
        "cap_vs_equal",
        "cap_vs_equal_periods",
        "membership_changes",
    ] {
        assert!(run.summary["datasets"][ds].as_u64().unwrap() > 0, "{ds}: {}", run.summary);
    }
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.publish().join("latest.json")).unwrap()).unwrap();
    assert_eq!(latest["as_of"], "2024-12-31");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(demo.publish().join(latest["manifest"].as_str().unwrap())).unwrap())
            .unwrap();
    assert_eq!(manifest["datasets"].as_array().unwrap().len(), run.summary["datasets"].as_object().unwrap().len());
    assert!(manifest["datasets"].as_array().unwrap().len() >= 9);
    assert_eq!(manifest["inputs"][0]["accepted"], 1260);

    // Exhibit 3, recomputed here from the generated index_levels.csv by a plain loop.
    let csv = std::fs::read_to_string(demo.path().join("data/index_levels.csv")).unwrap();
    let (mut r2000, mut r1000) = (Vec::new(), std::collections::HashMap::new());
    let mut prev: std::collections::HashMap<String, f64> = Default::default();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let level: f64 = f[3].parse().unwrap();
        if let Some(p) = prev.insert(f[1].to_string(), level) {
            let r = (level / p - 1.0) * 100.0;
            match f[1] {
                "R2000" => r2000.push((f[0].to_string(), r)),
                "R1000" => {
                    r1000.insert(f[0].to_string(), r);
                }
                _ => {}
            }
        }
    }
    r2000.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let moves = Rows { batch: read_dataset(&demo.publish(), "largest_daily_moves", "2024-12-31") };
    assert_eq!(moves.len(), 10);
    for (i, (day, r)) in r2000.iter().take(10).enumerate() {
        assert_eq!(moves.date("date", i).to_string(), *day, "rank {}", i + 1);
        assert!((moves.f64("target_return_pct", i).unwrap() - r).abs() < 1e-9);
        assert!((moves.f64("peer_return_pct", i).unwrap() - r1000[day]).abs() < 1e-9);
        assert!(moves.f64("yield_change_bp", i).is_some());
    }
    // The as_of partition value is also a Date32 column inside every file.
    assert_eq!(moves.date("as_of", 0), date("2024-12-31"));
    let periods = Rows { batch: read_dataset(&demo.publish(), "yield_periods", "2024-12-31") };
    // Each file says what it is and its conventions (from the model's header and contract).
    let meta = dataset_metadata(&demo.publish(), "yield_periods", "2024-12-31");
    assert_eq!(meta["model_file"], "exhibits/yield_periods.sql");
    assert_eq!(meta["as_of"], "2024-12-31");
    assert!(meta["conventions"].as_str().unwrap().contains("Conventions: close-to-close"), "{meta}");
    assert!(meta["description"].as_str().unwrap().starts_with("Exhibit 4"), "{meta}");
    assert_eq!(
        (0..periods.len()).map(|i| periods.text("label", i)).collect::<Vec<_>>(),
        ["Q1 2024", "Q2 2024", "Q3 2024", "Q4 2024"]
    );
    // Exhibit 5 and the equal-weight engine reproduce the generator's own indexes.
    crate::engine::assert_engine_matches_generator(demo.path(), &demo.publish(), "2024-12-31");
}

#[test]
fn rerunning_an_as_of_date_writes_identical_bytes() {
    let demo = Demo::with_engine();
    assert_exit(&demo.run("2024-12-31"), 0, "success", &[]);
    let file = partition_file(&demo.publish(), "largest_daily_moves", "2024-12-31");
    let first = std::fs::read(&file).unwrap();
    let every_dataset = reader_view(&demo.publish());
    assert!(every_dataset.len() >= 14, "{every_dataset:?}");
    assert_exit(&demo.run("2024-12-31"), 0, "success", &[]);
    assert!(first == std::fs::read(&file).unwrap(), "a re-run must publish the same bytes");
    // Every dataset, the engine's sums over thousands of securities included (a parallel plan
    // adds them in any order; fsum rounds once).
    assert_eq!(reader_view(&demo.publish()), every_dataset, "a re-run must publish the same bytes");
    let files = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
    assert_eq!(files, 1, "no duplicate files in the partition");
}

#[test]
fn an_earlier_as_of_date_sees_only_data_up_to_it() {
    let demo = Demo::new();
    assert_exit(&demo.run("2024-06-28"), 0, "success", &[]);
    let returns = Rows { batch: read_dataset(&demo.publish(), "daily_returns", "2024-06-28") };
    assert!((0..returns.len()).all(|i| returns.date("date", i) <= date("2024-06-28")));
    assert!((0..returns.len()).any(|i| returns.date("date", i) == date("2024-06-28")));
}

#[test]
fn backfill_runs_every_trading_day_of_the_range() {
    let demo = Demo::new();
    let o = exhibits(demo.path(), &["run", "--pipeline", "nightly.toml", "--from", "2024-12-27", "--to", "2024-12-31"]);
    assert_exit(&o, 0, "success", &[]);
    let as_ofs: Vec<&str> =
        o.summary["runs"].as_array().unwrap().iter().map(|r| r["as_of"].as_str().unwrap()).collect();
    assert_eq!(as_ofs, ["2024-12-27", "2024-12-30", "2024-12-31"]);
    for d in as_ofs {
        partition_file(&demo.publish(), "daily_returns", d);
    }
}

#[test]
fn ingest_alone_stores_every_file_builds_nothing_and_leaves_no_staging() {
    let demo = Demo::new();
    let lake = demo.path().join("var/lake");
    // A staging folder that a killed run left behind (no process has this id).
    let left = lake.join(".staging-999999999-x/0");
    std::fs::create_dir_all(&left).unwrap();
    std::fs::write(left.join("raw"), "half a file").unwrap();
    let ingest = || exhibits(demo.path(), &["ingest", "--pipeline", "nightly.toml", "--as-of", "2024-12-31"]);
    let first = ingest();
    assert_exit(&first, 0, "success", &[]);
    assert_eq!(first.summary["command"], "ingest");
    let inputs = first.summary["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "{}", first.summary);
    for i in inputs {
        let ledger = lake.join(format!(
            "ledger/source={}/file={}.json",
            i["source"].as_str().unwrap(),
            Path::new(i["file"].as_str().unwrap()).file_name().unwrap().to_str().unwrap()
        ));
        assert!(ledger.is_file(), "{}", ledger.display());
    }
    assert!(lake.join("index_levels/source=demo_index_levels").is_dir());
    assert!(!demo.publish().exists(), "the ingest stage publishes nothing");
    let staging: Vec<_> = std::fs::read_dir(&lake)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .filter(|n| n.starts_with(".staging-"))
        .collect();
    assert!(staging.is_empty(), "{staging:?}");

    let again = ingest();
    assert_exit(&again, 0, "success", &[]);
    assert!(again.stderr.contains("already in the lake, unchanged"), "{}", again.stderr);

    // A bad file: exit 1 naming it; the other source's file is still stored.
    std::fs::write(demo.path().join("data/treasury_10y.csv"), "when,what\n1,2\n").unwrap();
    let bad = ingest();
    assert_exit(
        &bad,
        1,
        "data_error",
        &["1 bad file(s); the other files were ingested, nothing else was done", "treasury_10y.csv"],
    );
    assert_eq!(bad.summary["inputs"].as_array().unwrap().len(), 1, "{}", bad.summary);
}

#[test]
fn inputs_not_there_yet_exit_99_and_change_nothing() {
    let demo = Demo::new();
    let o = demo.run("2025-01-02");
    assert_exit(
        &o,
        99,
        "not_ready",
        &["demo_index_levels", "reaches 2024-12-31, not yet the as-of trading day 2025-01-02"],
    );
    assert!(!demo.path().join("var").exists(), "nothing written to the lake or the publish folder");

    // A weekend or holiday as-of date needs only the trading day before it.
    let o = demo.run("2025-01-01");
    assert_exit(&o, 0, "success", &[]);
}

#[test]
fn a_missing_source_file_exits_99() {
    let demo = Demo::new();
    std::fs::remove_file(demo.path().join("data/treasury_10y.csv")).unwrap();
    assert_exit(&demo.run("2024-12-31"), 99, "not_ready", &["treasury_10y.csv", "cannot read the file"]);
}

#[test]
fn a_file_of_another_layout_exits_1_naming_the_file_and_the_other_files_are_ingested() {
    let demo = Demo::new();
    std::fs::write(demo.path().join("data/treasury_10y.csv"), "when,what\n2024-12-31,4.2\n").unwrap();
    let o = demo.run("2024-12-31");
    assert_exit(
        &o,
        1,
        "data_error",
        &[
            "1 bad file(s); the other files were ingested, nothing was built or published",
            "treasury_10y.csv",
            "unknown layout for format CanonicalYields: expected a header date,yield_pct, found when,what",
        ],
    );
    assert_eq!(o.summary["bad_files"][0]["source"], "demo_treasury_10y", "{}", o.summary);
    let lake = demo.path().join("var/lake");
    // The demo's levels are all of 2024: one year partition.
    assert!(lake.join("index_levels/source=demo_index_levels/file=index_levels.csv/year=2024/data.parquet").is_file());
    assert!(lake.join("ledger/source=demo_index_levels/file=index_levels.csv.json").is_file());
    assert!(!demo.publish().join("latest.json").exists(), "nothing published");
}

/// Splits the demo's index levels into `data/levels/part_1.csv` (the first `first` rows) and
/// `part_2.csv` (the rest), each with the header, and points the pipeline at `levels/part_*.csv`.
fn split_levels(demo: &Demo, first: usize, edit: impl Fn(String) -> String) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(demo.path().join("data/index_levels.csv")).unwrap();
    let mut lines = text.lines().map(str::to_string);
    let header = lines.next().unwrap();
    let rows: Vec<String> = lines.collect();
    std::fs::create_dir_all(demo.path().join("data/levels")).unwrap();
    for (name, part) in [("part_1.csv", &rows[..first]), ("part_2.csv", &rows[first..])] {
        std::fs::write(demo.path().join("data/levels").join(name), format!("{header}\n{}\n", part.join("\n"))).unwrap();
    }
    demo.pipeline_with(|t| edit(t.replace("data/index_levels.csv", "data/levels/part_*.csv")));
    (header, rows)
}

#[test]
fn a_glob_source_ingests_each_file_once_and_a_corrected_file_is_a_restatement() {
    let demo = Demo::new();
    let (header, rows) = split_levels(&demo, 100, |t| t);
    let lake = demo.path().join("var/lake");
    let first = demo.run("2024-12-31");
    assert_exit(&first, 0, "success", &[]);
    let levels: Vec<&serde_json::Value> =
        first.summary["inputs"].as_array().unwrap().iter().filter(|i| i["source"] == "demo_index_levels").collect();
    assert_eq!(levels.len(), 2, "one report per file: {levels:?}");
    assert!(levels[0]["file"].as_str().unwrap().ends_with("part_1.csv"));
    assert_eq!(levels[0]["accepted"].as_u64().unwrap() + levels[1]["accepted"].as_u64().unwrap(), rows.len() as u64);
    for part in ["part_1.csv", "part_2.csv"] {
        assert!(
            lake.join(format!("index_levels/source=demo_index_levels/file={part}/year=2024/data.parquet")).is_file()
        );
    }

    // The same files again: the lake does not change.
    let ledger = lake.join("ledger/source=demo_index_levels/file=part_2.csv.json");
    let before = std::fs::read(&ledger).unwrap();
    let again = demo.run("2024-12-31");
    assert_exit(&again, 0, "success", &[]);
    assert!(again.stderr.contains("part_2.csv: already in the lake, unchanged"), "{}", again.stderr);
    assert_eq!(again.summary["restated"], serde_json::json!([]));
    assert_eq!(std::fs::read(&ledger).unwrap(), before);

    // The vendor corrects part_2: one row fewer. Its rows are replaced and the ledger says so.
    let corrected = &rows[100..rows.len() - 1];
    std::fs::write(demo.path().join("data/levels/part_2.csv"), format!("{header}\n{}\n", corrected.join("\n")))
        .unwrap();
    let third = demo.run("2024-12-31");
    assert_exit(&third, 0, "success", &[]);
    let restated = &third.summary["restated"][0]["restatement"];
    let old_rows = (rows.len() - 100) as u64;
    assert_eq!((restated["old_rows"].as_u64(), restated["new_rows"].as_u64()), (Some(old_rows), Some(old_rows - 1)));
    let entry: serde_json::Value = serde_json::from_slice(&std::fs::read(&ledger).unwrap()).unwrap();
    assert_eq!(entry["restatements"].as_array().unwrap().len(), 1, "{entry}");
    assert_eq!(entry["accepted"].as_u64(), Some(old_rows - 1));
    assert!(third.stderr.contains(&format!("restated: {old_rows} rows")), "{}", third.stderr);
}

#[test]
fn a_row_delivered_by_two_files_is_kept_from_the_first_even_once_that_file_is_gone() {
    let demo = Demo::new();
    let (header, rows) = split_levels(&demo, 100, |t| t);
    // part_3 repeats part_1's sixth row (line 7 there).
    let levels = demo.path().join("data/levels");
    std::fs::write(levels.join("part_3.csv"), format!("{header}\n{}\n", rows[5])).unwrap();
    let fields: Vec<&str> = rows[5].split(',').collect();
    let why = format!(
        "part_3.csv: 1 rows quarantined; first at line 2, column date: duplicate of a row of part_1.csv ({} {})",
        fields[0], fields[1]
    );
    let first = demo.run("2024-12-31");
    assert_exit(&first, 0, "success", &[]);
    assert!(first.stderr.contains(&why), "{}", first.stderr);
    let part_3 = first.summary["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["file"].as_str().unwrap().ends_with("part_3.csv"))
        .unwrap()
        .clone();
    assert_eq!(
        (part_3["rows_read"].as_u64(), part_3["accepted"].as_u64(), part_3["rejected"].as_u64()),
        (Some(1), Some(0), Some(1))
    );
    // The vendor's folder no longer has part_1; the lake does, and still wins.
    std::fs::remove_file(levels.join("part_1.csv")).unwrap();
    let again = demo.run("2024-12-31");
    assert_exit(&again, 0, "success", &[]);
    assert!(again.stderr.contains(&why), "{}", again.stderr);
}

#[test]
fn a_bad_file_of_a_glob_source_is_skipped_when_the_source_tolerates_it() {
    let demo = Demo::new();
    split_levels(&demo, 100, |t| t);
    std::fs::write(demo.path().join("data/levels/part_3.csv"), "when,what\n1,2\n").unwrap();
    assert_exit(&demo.run("2024-12-31"), 1, "data_error", &["part_3.csv", "unknown layout"]);
    split_levels(&demo, 100, |t| t.replace("levels/part_*.csv\"", "levels/part_*.csv\"\non_bad_file = \"skip\""));
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    assert_eq!(o.summary["bad_files"][0]["on_bad_file"], "skip", "{}", o.summary);
    assert!(o.summary["bad_files"][0]["error"].as_str().unwrap().contains("part_3.csv"));
}

#[test]
fn format_auto_tells_the_demo_files_apart_and_still_waits_for_the_as_of_day() {
    let demo = Demo::new();
    demo.pipeline_with(|t| {
        t.replace("format = \"canonical_index_levels\"", "format = \"auto\"")
            .replace("format = \"canonical_yields\"", "format = \"auto\"")
    });
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    let formats: Vec<&str> =
        o.summary["inputs"].as_array().unwrap().iter().map(|i| i["format"].as_str().unwrap()).collect();
    assert_eq!(formats, ["canonical_index_levels", "canonical_yields"]);
    // Index levels must reach the as-of day (their table's rule), told from the file.
    assert_exit(&demo.run("2025-01-06"), 99, "not_ready", &["source demo_index_levels", "reaches 2024-12-31"]);
}

#[test]
fn rows_dated_after_the_as_of_date_are_quarantined() {
    let demo = Demo::new();
    let path = demo.path().join("data/treasury_10y.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("2025-01-02,4.5\n");
    std::fs::write(&path, text).unwrap();
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    assert!(
        o.stderr.contains(
            "1 rows quarantined; first at line 254, column date: dated 2025-01-02, after the as-of date 2024-12-31"
        ),
        "{}",
        o.stderr
    );
}

#[test]
fn bad_rows_are_quarantined_and_the_run_goes_on() {
    let demo = Demo::new();
    let path = demo.path().join("data/treasury_10y.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text = text.replacen("2024-01-03,", "2024-01-03,x", 1);
    text.push_str("2024-12-31,99\n");
    std::fs::write(&path, text).unwrap();
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    let inputs = o.summary["inputs"].as_array().unwrap();
    let tsy = inputs.iter().find(|i| i["source"] == "demo_treasury_10y").unwrap();
    assert_eq!(
        (tsy["rows_read"].as_u64(), tsy["accepted"].as_u64(), tsy["rejected"].as_u64()),
        (Some(253), Some(251), Some(2))
    );
    let q = demo.path().join("var/lake/quarantine/source=demo_treasury_10y/file=treasury_10y.csv/data.parquet");
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(q).unwrap())
            .unwrap()
            .build()
            .unwrap();
    let rows = Rows { batch: reader.map(Result::unwrap).next().unwrap() };
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.text("column", 0), "yield_pct");
    assert!(rows.text("reason", 0).starts_with("expected a number, found \"x"), "{}", rows.text("reason", 0));
    assert_eq!(rows.text("reason", 1), "a yield in percent must be within -5..25, found 99");
    assert!(rows.text("file", 1).ends_with("treasury_10y.csv"));
    assert!(o.stderr.contains("2 rows quarantined; first at line 3, column yield_pct"), "{}", o.stderr);
}

#[test]
fn a_broken_model_exits_1_naming_the_model_file() {
    let demo = Demo::new();
    let sql = demo.path().join("sql");
    copy_dir(&repo().join("sql"), &sql);
    let model = sql.join("exhibits/largest_daily_moves.sql");
    let text = std::fs::read_to_string(&model).unwrap().replace("k.daily_return * 100", "k.daily_returnz * 100");
    std::fs::write(&model, text).unwrap();
    demo.pipeline_with(|t| t.replace(&format!("{:?}", repo().join("sql")), &format!("{:?}", sql)));
    assert_exit(
        &demo.run("2024-12-31"),
        1,
        "data_error",
        &["model largest_daily_moves", "largest_daily_moves.sql", "daily_returnz"],
    );
    assert!(!demo.publish().join("latest.json").exists(), "nothing published");
}

#[test]
fn publishing_a_dataset_without_a_model_exits_2() {
    let demo = Demo::new();
    demo.pipeline_with(|t| t.replace("\"rolling_extremes\",\n]", "\"rolling_extremes\", \"yield_periodz\",\n]"));
    assert_exit(
        &demo.run("2024-12-31"),
        2,
        "usage_error",
        &["[publish] lists dataset yield_periodz", "no model yield_periodz.sql"],
    );
}

#[test]
fn configuration_and_usage_errors_exit_2() {
    let demo = Demo::new();
    let o = exhibits(demo.path(), &["run", "--pipeline", "nope.toml", "--as-of", "2024-12-31"]);
    assert_exit(&o, 2, "usage_error", &["cannot read pipeline file nope.toml"]);

    demo.pipeline_with(|t| t.replace("top_n = 10", "top_n = 10\ntop_n = 11"));
    let o = demo.run("2024-12-31");
    assert_exit(&o, 2, "usage_error", &["nightly.toml is not valid", "duplicate key"]);

    // A malformed date is rejected by the argument parser, with exit 2 and its usage text.
    let o = exhibits(demo.path(), &["run", "--pipeline", "nightly.toml", "--as-of", "2024-13-01"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("invalid value '2024-13-01' for '--as-of"), "{}", o.stderr);
    demo.pipeline_with(|t| t);
    let o = exhibits(
        demo.path(),
        &["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-31", "--publish", "ftp://host/x"],
    );
    assert_exit(
        &o,
        2,
        "usage_error",
        &["publish target ftp://host/x: unknown scheme ftp://; use a folder, s3://, az:// or gs://"],
    );
    let o = exhibits(demo.path(), &["run", "--pipeline", "nightly.toml", "--from", "2024-12-31", "--to", "2024-12-01"]);
    assert_exit(&o, 2, "usage_error", &["--from 2024-12-31 is after --to 2024-12-01"]);
}

#[test]
fn a_run_waits_for_another_run_on_the_same_lake_with_exit_3() {
    let demo = Demo::new();
    let lake = demo.path().join("var/lake");
    std::fs::create_dir_all(&lake).unwrap();
    // A live process holds the lock: this test's own process.
    let holder = format!("pid {} (pipeline nightly, as-of 2024-12-30, since 2026-01-01T00:00:00Z)", std::process::id());
    std::fs::write(lake.join(".exhibits.lock"), &holder).unwrap();
    let o = demo.run("2024-12-31");
    assert_exit(
        &o,
        3,
        "transient_error",
        &["is in use by another exhibits run", &holder, "retry when it has finished"],
    );
    assert!(!demo.publish().join("latest.json").exists(), "nothing published");
    assert_eq!(
        std::fs::read_to_string(lake.join(".exhibits.lock")).unwrap(),
        holder,
        "the other run's lock is left alone"
    );
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over_and_released() {
    let demo = Demo::new();
    let lake = demo.path().join("var/lake");
    std::fs::create_dir_all(&lake).unwrap();
    // No process has this pid (above Linux's pid_max): the run that held it is gone.
    std::fs::write(lake.join(".exhibits.lock"), "pid 4294967295 (pipeline nightly, as-of 2024-12-30, since …)")
        .unwrap();
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    assert!(o.stderr.contains("taking over a lock left by a run that no longer exists"), "{}", o.stderr);
    assert!(!lake.join(".exhibits.lock").exists(), "released when the run ends");
}

#[test]
fn latest_only_moves_forward_and_retention_keeps_the_newest_dates() {
    let demo = Demo::new();
    demo.pipeline_with(|t| t.replace("[publish]\n", "[publish]\nkeep_last = 2\n"));
    for as_of in ["2024-12-27", "2024-12-30", "2024-12-31"] {
        assert_exit(&demo.run(as_of), 0, "success", &[]);
    }
    let partition = |d: &str| demo.publish().join(format!("daily_returns/as_of={d}"));
    let manifest = |d: &str| demo.publish().join(format!("manifests/as_of={d}.json"));
    assert!(!partition("2024-12-27").exists() && !manifest("2024-12-27").exists(), "the oldest date is removed");
    assert!(partition("2024-12-30").exists() && partition("2024-12-31").exists());
    let latest = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(demo.publish().join("latest.json")).unwrap()).unwrap()
    };
    assert_eq!(latest()["as_of"], "2024-12-31");

    // A backfill of an earlier date publishes its partitions but leaves latest.json alone; with
    // keep_last = 2 that date is outside the window and removed again, which the summary says.
    let o = demo.run("2024-12-27");
    assert_exit(&o, 0, "success", &[]);
    assert_eq!(o.summary["latest_advanced"], false);
    assert_eq!(o.summary["removed_as_of"], serde_json::json!(["2024-12-27"]));
    assert_eq!(latest()["as_of"], "2024-12-31");
}

/// What a reader that follows latest.json sees: dataset → sha256, after checking that every file
/// the manifest lists exists with that content.
fn reader_view(publish: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    let latest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(publish.join("latest.json")).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(publish.join(latest["manifest"].as_str().unwrap())).unwrap()).unwrap();
    let mut view = std::collections::BTreeMap::new();
    for ds in manifest["datasets"].as_array().unwrap() {
        let file = publish.join(ds["files"][0].as_str().unwrap());
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("latest lists {} but: {e}", file.display()));
        let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(ds["sha256"].as_str().unwrap(), sha, "{} is not the file the manifest lists", file.display());
        view.insert(format!("{}@{}", ds["name"].as_str().unwrap(), latest["as_of"].as_str().unwrap()), sha);
    }
    view
}

/// SIGKILL at every store write of a publish (EXHIBITS_FAILPOINT): a reader that follows
/// latest.json sees the previous complete run or the new one, never a mix; the next run
/// completes. The publish restates an already published date (so new files sit beside the ones
/// the old manifest lists) with retention, so that it has more than 20 writes.
#[test]
fn a_publisher_killed_at_any_write_leaves_readers_a_complete_run() {
    let demo = Demo::new();
    demo.pipeline_with(|t| t.replace("[publish]\n", "[publish]\nkeep_last = 2\n"));
    assert_exit(&demo.run("2024-12-30"), 0, "success", &[]);
    assert_exit(&demo.run("2024-12-31"), 0, "success", &[]);
    let before = reader_view(&demo.publish());
    let saved = demo.path().join("published-before");
    copy_dir(&demo.publish(), &saved);

    // A corrected vendor file for 2024-12-31, published with keep_last = 1.
    let levels = demo.path().join("data/index_levels.csv");
    let text = std::fs::read_to_string(&levels).unwrap();
    let restated: String = text
        .lines()
        .map(|l| if l.starts_with("2024-12-31,R2000,") { "2024-12-31,R2000,1500.0,1500.0" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    assert_ne!(restated, text);
    std::fs::write(&levels, restated).unwrap();
    demo.pipeline_with(|t| t.replace("[publish]\n", "[publish]\nkeep_last = 1\n"));
    let restore = || {
        std::fs::remove_dir_all(demo.publish()).unwrap();
        copy_dir(&saved, &demo.publish());
    };
    let o = demo.run("2024-12-31");
    assert_exit(&o, 0, "success", &[]);
    let after = reader_view(&demo.publish());
    assert_ne!(before, after, "the restatement changes what readers see");

    let mut kills = 0;
    for k in 1.. {
        restore();
        let n = k.to_string();
        let o = exhibits_env(
            demo.path(),
            &["run", "--pipeline", "nightly.toml", "--as-of", "2024-12-31"],
            &[("EXHIBITS_FAILPOINT", &n)],
        );
        if o.code == 0 {
            break; // k is past the last write
        }
        assert_eq!(o.code, -1, "killed by a signal at write {k}: {}", o.stderr);
        kills += 1;
        let seen = reader_view(&demo.publish());
        assert!(seen == before || seen == after, "killed at write {k}, a reader saw a mix: {seen:?}");
        let o = demo.run("2024-12-31");
        assert_exit(&o, 0, "success", &[]);
        assert_eq!(reader_view(&demo.publish()), after, "the run after the kill at write {k} completes");
    }
    eprintln!("{kills} kill points, each followed by a reader check and a completing run");
    assert!(kills >= 20, "only {kills} kill points");
}
