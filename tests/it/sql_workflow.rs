//! The data engineer's workflow on `sql/` without touching Rust: check, SQL tests, contracts,
//! data tests, selection. Each test works on a scratch copy of the repository's `sql/`,
//! `tests/sql/` and nightly pipeline, as a data engineer's checkout would be.

use std::path::{Path, PathBuf};

use crate::support::{
    Outcome, Rows, copy_dir, exhibits, exhibits_ok, partition_file, read_dataset, repo, without_engine,
};

/// A scratch project: `sql/`, `tests/sql/`, `pipelines/nightly.toml` and generated demo data.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&repo().join("sql"), &dir.path().join("sql"));
        copy_dir(&repo().join("tests/sql"), &dir.path().join("tests/sql"));
        std::fs::create_dir_all(dir.path().join("pipelines")).unwrap();
        std::fs::copy(repo().join("pipelines/nightly.toml"), dir.path().join("pipelines/nightly.toml")).unwrap();
        Scratch { dir }
    }

    /// With the demo data, and the pipeline without the equal-weight engine (see
    /// `support::without_engine`).
    fn with_data() -> Scratch {
        let s = Scratch::new();
        exhibits_ok(s.path(), &["gen", "--scale", "s", "--out", "data/demo"], 0);
        s.edit("pipelines/nightly.toml", without_engine);
        s
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    fn edit(&self, rel: &str, f: impl Fn(String) -> String) {
        let path = self.file(rel);
        let before = std::fs::read_to_string(&path).unwrap();
        let after = f(before.clone());
        assert_ne!(before, after, "the edit of {rel} changed nothing");
        std::fs::write(path, after).unwrap();
    }

    fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.file(rel), text).unwrap();
    }

    fn check(&self) -> Outcome {
        exhibits(self.path(), &["check"])
    }

    fn run(&self, extra: &[&str]) -> Outcome {
        let mut args = vec!["run", "--pipeline", "pipelines/nightly.toml", "--as-of", "2024-12-31"];
        args.extend_from_slice(extra);
        exhibits(self.path(), &args)
    }
}

fn problems(o: &Outcome) -> Vec<String> {
    o.summary["problems"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()
}

/// Asserts that `check` exits 2 and that one problem contains every part.
fn assert_problem(o: &Outcome, parts: &[&str]) {
    assert_eq!(o.code, 2, "check must fail\n{}\n{}", o.stdout, o.stderr);
    let found = problems(o);
    assert!(found.iter().any(|p| parts.iter().all(|part| p.contains(part))), "no problem with {parts:?} in {found:#?}");
}

/// The models under `sql/` (files `*.sql` that are not data tests `*.test.sql`).
fn model_count(sql: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(sql).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            n += model_count(&path);
        } else if name.ends_with(".sql") && !name.ends_with(".test.sql") {
            n += 1;
        }
    }
    n
}

#[test]
fn check_passes_on_the_repository() {
    let o = exhibits_ok(&repo(), &["check"], 0);
    assert_eq!(o.summary["problems"], serde_json::json!([]));
    assert_eq!(o.summary["models"].as_u64(), Some(model_count(&repo().join("sql"))));
}

#[test]
fn sql_tests_of_the_repository_pass() {
    let o = exhibits_ok(&repo(), &["test"], 0);
    let models = model_count(&repo().join("sql"));
    assert_eq!((o.summary["files"].as_u64(), o.summary["passed"].as_u64()), (Some(models), Some(models)));
}

#[test]
fn a_wrong_expectation_in_an_sql_test_fails() {
    let s = Scratch::new();
    s.edit("tests/sql/daily_returns.slt", |t| {
        t.replace("R1000 2024-07-05 2024-07-03 0.02 price", "R1000 2024-07-05 2024-07-03 0.021 price")
    });
    let o = exhibits(s.path(), &["test", "--models", "sql"]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("FAILED tests/sql/daily_returns.slt") && o.stderr.contains("0.021"), "{}", o.stderr);
    assert_eq!(o.summary["passed"].as_u64(), Some(model_count(&repo().join("sql")) - 1));
}

#[test]
fn check_catches_a_syntax_error() {
    let s = Scratch::new();
    s.edit("sql/intermediate/daily_returns.sql", |t| {
        t.replace("where prev_level is not null", "where prev_level is is not null")
    });
    assert_problem(
        &s.check(),
        &["sql/intermediate/daily_returns.sql", "line 36, column 25: Expected: [NOT] NULL", "found: is"],
    );
}

#[test]
fn check_catches_an_unknown_column_with_its_line() {
    let s = Scratch::new();
    s.edit("sql/exhibits/largest_daily_moves.sql", |t| t.replace("k.daily_return * 100", "k.daily_returnz * 100"));
    let o = s.check();
    assert_problem(&o, &["sql/exhibits/largest_daily_moves.sql", "largest_daily_moves", "line 52", "daily_returnz"]);
    // Its data test is not planned either, and says why instead of "table not found".
    assert_problem(
        &o,
        &["largest_daily_moves_ranked.test.sql", "not planned: it reads largest_daily_moves, which failed"],
    );
}

#[test]
fn check_catches_a_type_that_breaks_a_contract_column_by_column() {
    let s = Scratch::new();
    s.edit("sql/exhibits/largest_daily_moves.sql", |t| t.replace("as bigint) as rank", "as double) as rank"));
    s.edit("sql/exhibits/largest_daily_moves.sql", |t| {
        t.replace("        p.window_end\n", "        p.window_end,\n        1 as extra\n")
    });
    let o = s.check();
    assert_problem(
        &o,
        &[
            "sql/exhibits/schema.yml:3:",
            "contract of largest_daily_moves: column rank: declared bigint but the model produces Float64",
        ],
    );
    assert_problem(
        &o,
        &["contract of largest_daily_moves: column extra: produced by the model (Int64) but not in the contract"],
    );
}

#[test]
fn check_catches_a_cycle() {
    let s = Scratch::new();
    s.edit("sql/staging/index_levels.sql", |t| {
        t.replace(
            "from lake.index_levels",
            "from lake.index_levels\n    where date not in (select date from daily_returns)",
        )
    });
    // Reported from whichever model of the cycle is reached first: either rotation.
    assert_problem(
        &s.check(),
        &["models form a cycle: ", "index_levels → daily_returns", "daily_returns → index_levels"],
    );
}

#[test]
fn check_requires_a_contract_and_an_sql_test_for_every_model() {
    let s = Scratch::new();
    s.write("sql/exhibits/orphan.sql", "select date from daily_returns\n");
    let o = s.check();
    assert_problem(
        &o,
        &["sql/exhibits/orphan.sql", "model orphan has no contract: add it to", "sql/exhibits/schema.yml"],
    );
    assert_problem(&o, &["sql/exhibits/orphan.sql", "model orphan has no SQL test: add", "tests/sql/orphan.slt"]);
}

/// How many datasets the repository's nightly pipeline publishes.
/// How many datasets the scratch copy of the nightly pipeline publishes.
fn pipeline_datasets(s: &Scratch) -> usize {
    let text = std::fs::read_to_string(s.file("pipelines/nightly.toml")).unwrap();
    let list = text.split("datasets = [").nth(1).unwrap().split(']').next().unwrap();
    list.split(',').filter(|d| !d.trim().is_empty()).count()
}

const MONTHLY_MODEL: &str = "-- monthly_returns: each index's return per calendar month, from the last close of the
-- previous month to the last close of the month, in percent.
-- grain: one row per (index_id, month_end_date)
-- inputs: index_levels
with

ranked as (
    select index_id, date, level,
           row_number() over (partition by index_id, date_trunc('month', date) order by date desc) as from_end
    from index_levels
),

month_ends as (
    select index_id, date as month_end_date, level from ranked where from_end = 1
),

final as (
    select index_id, month_end_date,
           (level / lag(level) over (partition by index_id order by month_end_date) - 1) * 100 as return_pct
    from month_ends
)

select * from final
where return_pct is not null
order by index_id, month_end_date
";

const MONTHLY_CONTRACT: &str = "
  - name: monthly_returns
    description: Each index's return per calendar month.
    tags: [exhibit, published]
    keys: [index_id, month_end_date]
    columns:
      - name: index_id
        type: varchar
        nullable: false
      - name: month_end_date
        type: date
        nullable: false
      - name: return_pct
        type: double
        nullable: false
";

// Expected values by hand: January ends at 110 (from 100 at the end of December: +10 %),
// February at 99 (99/110 - 1 = -10 %); the mid-month rows do not count.
const MONTHLY_SLT: &str = "statement ok
create table index_levels (date date, index_id varchar, level double) as values
  ('2023-12-29'::date, 'R2000', 100.0),
  ('2024-01-15'::date, 'R2000', 120.0),
  ('2024-01-31'::date, 'R2000', 110.0),
  ('2024-02-29'::date, 'R2000', 99.0)

statement ok
run model monthly_returns

query TTR
select index_id, month_end_date, return_pct from monthly_returns
----
R2000 2024-01-31 10
R2000 2024-02-29 -10
";

/// The acceptance test of the workflow: a new exhibit (model, contract, SQL test) added to a
/// copy of the project, with no Rust change, is planned by `check`, tested, and published.
#[test]
fn a_new_exhibit_is_checked_tested_and_published_without_rust() {
    let s = Scratch::with_data();
    s.write("sql/exhibits/monthly_returns.sql", MONTHLY_MODEL);
    s.edit("sql/exhibits/schema.yml", |t| t + MONTHLY_CONTRACT);
    s.write("tests/sql/monthly_returns.slt", MONTHLY_SLT);
    s.edit("pipelines/nightly.toml", |t| {
        t.replace("\"rolling_extremes\",\n]", "\"rolling_extremes\", \"monthly_returns\",\n]")
    });

    let models = model_count(&repo().join("sql")) + 1;
    let check = exhibits_ok(s.path(), &["check"], 0);
    assert_eq!(check.summary["models"].as_u64(), Some(models));
    let plan = exhibits_ok(
        s.path(),
        &["run", "--pipeline", "pipelines/nightly.toml", "--dry-run", "--select", "monthly_returns"],
        0,
    );
    let planned: Vec<&str> =
        plan.summary["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    assert_eq!(planned, ["index_levels", "monthly_returns"]);

    let tests = exhibits_ok(s.path(), &["test"], 0);
    assert_eq!(tests.summary["passed"].as_u64(), Some(models));

    let run = s.run(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.summary["datasets"]["monthly_returns"], 55, "11 months × 5 indexes");
    let monthly = Rows { batch: read_dataset(&s.file("var/publish"), "monthly_returns", "2024-12-31") };
    // December for R2000, from the generated levels by hand: last close of December over the
    // last close of November.
    let levels = std::fs::read_to_string(s.file("data/demo/index_levels.csv")).unwrap();
    let level = |day: &str| -> f64 {
        let line = levels.lines().find(|l| l.starts_with(&format!("{day},R2000,"))).unwrap();
        line.split(',').nth(3).unwrap().parse().unwrap()
    };
    let want = (level("2024-12-31") / level("2024-11-29") - 1.0) * 100.0;
    let i = (0..monthly.len())
        .find(|&i| {
            monthly.text("index_id", i) == "R2000" && monthly.date("month_end_date", i).to_string() == "2024-12-31"
        })
        .unwrap();
    assert!((monthly.f64("return_pct", i).unwrap() - want).abs() < 1e-9);
}

#[test]
fn a_failing_data_test_withholds_its_dataset_and_the_rest_is_published() {
    let s = Scratch::with_data();
    s.write(
        "sql/exhibits/no_second_period.test.sql",
        "select period_no, label from yield_periods where period_no = 2\n",
    );
    let o = s.run(&[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert_eq!(o.summary["status"], "data_error");
    assert!(o.error().contains("datasets withheld from publishing: yield_periods"), "{}", o.error());
    let why = o.summary["withheld"][0]["reason"].as_str().unwrap();
    assert!(
        why.contains("data test no_second_period") && why.contains("returned 1 rows") && why.contains("Q2 2024"),
        "{why}"
    );
    assert!(!s.file("var/publish/yield_periods/as_of=2024-12-31").exists());
    partition_file(&s.file("var/publish"), "largest_daily_moves", "2024-12-31");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.file("var/publish/manifests/as_of=2024-12-31.json")).unwrap()).unwrap();
    assert_eq!(manifest["withheld"][0]["dataset"], "yield_periods");
    let listed = pipeline_datasets(&s);
    assert_eq!(manifest["datasets"].as_array().unwrap().len(), listed - 1);
}

#[test]
fn data_that_breaks_its_contract_is_withheld_with_the_reason() {
    let s = Scratch::with_data();
    s.edit("sql/intermediate/schema.yml", |t| t.replace("range: [-0.95, 10]", "range: [-0.001, 0.001]"));
    let o = s.run(&[]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    let why = o.summary["withheld"][0]["reason"].as_str().unwrap();
    assert_eq!(o.summary["withheld"][0]["dataset"], "daily_returns");
    assert!(
        why.contains("column daily_return: values from") && why.contains("outside the declared range [-0.001, 0.001]"),
        "{why}"
    );
}

#[test]
fn select_publishes_only_the_chosen_datasets() {
    let s = Scratch::with_data();
    let o = s.run(&["--select", "largest_daily_moves"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let published: Vec<&String> = o.summary["datasets"].as_object().unwrap().keys().collect();
    assert_eq!(published, ["largest_daily_moves"]);

    let o = s.run(&["--select", "tag:exhibit", "--dry-run"]);
    let outputs: Vec<&str> =
        o.summary["outputs"].as_array().unwrap().iter().map(|d| d["dataset"].as_str().unwrap()).collect();
    assert!(outputs.contains(&"largest_daily_moves") && outputs.contains(&"yield_periods"), "{outputs:?}");
    assert!(!outputs.contains(&"daily_returns"), "daily_returns is tagged core, not exhibit");

    let o = s.run(&["--select", "index_levels+", "--dry-run"]);
    let planned: Vec<&str> =
        o.summary["models"].as_array().unwrap().iter().map(|m| m["model"].as_str().unwrap()).collect();
    let outputs: Vec<&str> =
        o.summary["outputs"].as_array().unwrap().iter().map(|d| d["dataset"].as_str().unwrap()).collect();
    // yields is not downstream of index_levels, so it is not published; it still runs, because
    // trading_day_yields (downstream) reads it.
    assert!(planned.contains(&"yields") && !outputs.contains(&"yields"), "{planned:?} {outputs:?}");
    // Nor is yield_period_proposals (yields only).
    assert_eq!(outputs.len(), pipeline_datasets(&s) - 2, "every other published dataset reads index_levels");

    let o = s.run(&["--select", "nope"]);
    assert_eq!(o.code, 2);
    assert!(o.error().contains("--select nope: there is no model nope"), "{}", o.error());
}
