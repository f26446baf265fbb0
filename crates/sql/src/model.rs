//! Model discovery and dependency order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use datafusion::common::TableReference;
use datafusion::common::config::Dialect;
use datafusion::execution::context::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Statement as SQLStatement;

use crate::{Contracts, SqlError};

/// One model: a query in a file.
#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: PathBuf,
    pub sql: String,
    /// Models this one reads.
    pub depends_on: Vec<String>,
    /// Lake and config tables this one reads (`lake.index_levels`, `config.params`).
    pub inputs: Vec<String>,
}

impl Model {
    /// The header comment: the leading `--` lines (purpose, grain, inputs, conventions).
    pub fn header(&self) -> String {
        self.sql
            .lines()
            .take_while(|l| l.trim_start().starts_with("--"))
            .map(|l| {
                l.trim_start()
                    .trim_start_matches("--")
                    .strip_prefix(' ')
                    .unwrap_or(l.trim_start().trim_start_matches("--"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A data test: a query in a `<name>.test.sql` file that must return zero rows. It runs after
/// the models it reads, and a failure withholds those models from publishing.
#[derive(Debug, Clone)]
pub struct DataTest {
    pub name: String,
    pub file: PathBuf,
    pub sql: String,
    /// Models the test reads (the datasets it guards).
    pub guards: Vec<String>,
}

/// All models of a folder, in an order where every model follows those it reads, and the data
/// tests beside them.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub models: Vec<Model>,
    pub tests: Vec<DataTest>,
}

/// The suffix of data test files.
pub const TEST_SUFFIX: &str = ".test.sql";

/// Every file under `dir` (recursively, in name order) whose name satisfies `keep`.
pub(crate) fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) -> Result<(), SqlError> {
    let read_err = |source| SqlError::Read { path: dir.to_owned(), source };
    let mut entries: Vec<_> = std::fs::read_dir(dir).map_err(read_err)?.collect::<Result<_, _>>().map_err(read_err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        if path.is_dir() {
            files_under(&path, keep, out)?;
        } else if keep(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// `SQL error: ParserError("Expected: …, found: x at Line: 3, Column: 7")` →
/// `line 3, column 7: Expected: …, found: x`.
fn parser_message(raw: &str) -> String {
    let inner = raw
        .strip_prefix("SQL error: ParserError(\"")
        .and_then(|m| m.strip_suffix("\")"))
        .map(|m| m.replace("\\\"", "\""))
        .unwrap_or_else(|| raw.to_string());
    match inner.rsplit_once(" at Line: ") {
        Some((what, at)) => match at.split_once(", Column: ") {
            Some((line, col)) => format!("line {line}, column {col}: {what}"),
            None => inner.clone(),
        },
        None => inner,
    }
}

/// The 1-based line of the first whole-word, case-insensitive occurrence of `word` in `text`.
pub(crate) fn line_of(text: &str, word: &str) -> usize {
    let lower = text.to_lowercase();
    let word = word.to_lowercase();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&word) {
        let start = from + pos;
        let end = start + word.len();
        let before = lower[..start].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = lower[end..].chars().next().is_none_or(|c| !is_ident(c));
        if before && after {
            return lower[..start].matches('\n').count() + 1;
        }
        from = end;
    }
    1
}

impl Project {
    /// Finds every model under `dir` and orders them; `state` supplies the SQL parser.
    pub fn discover(dir: &Path, state: &SessionState) -> Result<Project, SqlError> {
        let mut files = Vec::new();
        files_under(dir, &|p| p.extension().is_some_and(|x| x == "sql"), &mut files)?;
        let mut by_name: BTreeMap<String, (PathBuf, String, Vec<TableReference>)> = BTreeMap::new();
        let mut tests: Vec<(String, PathBuf, String, Vec<TableReference>)> = Vec::new();
        for file in files {
            let file_name = file.file_name().expect("a file name").to_string_lossy().into_owned();
            let sql = std::fs::read_to_string(&file).map_err(|source| SqlError::Read { path: file.clone(), source })?;
            let parse_err = |e: datafusion::error::DataFusionError| SqlError::Parse {
                file: file.clone(),
                message: parser_message(&e.strip_backtrace()),
            };
            let statement = state.sql_to_statement(&sql, &Dialect::Generic).map_err(parse_err)?;
            let is_query = matches!(&statement, DFStatement::Statement(s) if matches!(**s, SQLStatement::Query(_)));
            if !is_query {
                return Err(SqlError::Parse {
                    file: file.clone(),
                    message: "a model must be one query (SELECT or WITH …), found another kind of statement".into(),
                });
            }
            let refs = state.resolve_table_references(&statement).map_err(parse_err)?;
            if let Some(test_name) = file_name.strip_suffix(TEST_SUFFIX) {
                tests.push((test_name.to_string(), file, sql, refs));
                continue;
            }
            let name = file_name.strip_suffix(".sql").expect("a .sql file").to_string();
            if let Some((first, _, _)) = by_name.get(&name) {
                return Err(SqlError::DuplicateName { name, first: first.clone(), second: file });
            }
            by_name.insert(name, (file, sql, refs));
        }

        // Splits a query's references into models and lake/config inputs; anything else is an error.
        let split = |file: &Path, sql: &str, refs: &[TableReference]| -> Result<(Vec<String>, Vec<String>), SqlError> {
            let (mut depends_on, mut inputs) = (Vec::new(), Vec::new());
            for r in refs {
                match r.schema() {
                    Some("lake" | "config") => inputs.push(r.to_string()),
                    None if by_name.contains_key(r.table()) => depends_on.push(r.table().to_string()),
                    _ => {
                        let table = r.to_string();
                        return Err(SqlError::UnknownTable {
                            line: line_of(sql, &table),
                            file: file.to_owned(),
                            table,
                        });
                    }
                }
            }
            for v in [&mut depends_on, &mut inputs] {
                v.sort();
                v.dedup();
            }
            Ok((depends_on, inputs))
        };
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        for (name, (file, sql, refs)) in &by_name {
            let (depends_on, inputs) = split(file, sql, refs)?;
            models.insert(
                name.clone(),
                Model { name: name.clone(), file: file.clone(), sql: sql.clone(), depends_on, inputs },
            );
        }
        let tests = tests
            .into_iter()
            .map(|(name, file, sql, refs)| {
                let (guards, _) = split(&file, &sql, &refs)?;
                Ok(DataTest { name, file, sql, guards })
            })
            .collect::<Result<Vec<_>, SqlError>>()?;
        let order = topological_order(&models)?;
        let models = order.into_iter().map(|n| models.remove(&n).expect("ordered names exist")).collect();
        Ok(Project { dir: dir.to_owned(), models, tests })
    }

    /// The models that `name` reads, directly or not.
    pub fn ancestors(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo = vec![name.to_string()];
        while let Some(n) = todo.pop() {
            for d in self.model(&n).map(|m| m.depends_on.clone()).unwrap_or_default() {
                if out.insert(d.clone()) {
                    todo.push(d);
                }
            }
        }
        out
    }

    /// The models that read `name`, directly or not.
    pub fn descendants(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        // Models are in dependency order: one pass finds every descendant.
        for m in &self.models {
            if m.depends_on.iter().any(|d| d == name || out.contains(d)) {
                out.insert(m.name.clone());
            }
        }
        out
    }

    /// The models chosen by selectors: `name`, `name+` (and everything downstream), `+name`
    /// (and everything upstream), `tag:x` (models whose contract has tag x).
    pub fn select(&self, selectors: &[String], contracts: &Contracts) -> Result<BTreeSet<String>, SqlError> {
        let mut chosen = BTreeSet::new();
        for s in selectors {
            if let Some(tag) = s.strip_prefix("tag:") {
                let tagged = contracts.tagged(tag);
                if tagged.is_empty() {
                    return Err(SqlError::Select(format!("--select {s}: no model's contract has the tag {tag:?}")));
                }
                chosen.extend(tagged);
                continue;
            }
            let name = s.trim_start_matches('+').trim_end_matches('+');
            if self.model(name).is_none() {
                return Err(SqlError::Select(format!(
                    "--select {s}: there is no model {name} in {}",
                    self.dir.display()
                )));
            }
            chosen.insert(name.to_string());
            if s.starts_with('+') {
                chosen.extend(self.ancestors(name));
            }
            if s.ends_with('+') {
                chosen.extend(self.descendants(name));
            }
        }
        Ok(chosen)
    }

    /// `names` and every model they read: what must run to produce them.
    pub fn with_ancestors(&self, names: &BTreeSet<String>) -> BTreeSet<String> {
        let mut out = names.clone();
        for n in names {
            out.extend(self.ancestors(n));
        }
        out
    }

    /// The model called `name`.
    pub fn model(&self, name: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.name == name)
    }
}

/// Kahn's algorithm with names in alphabetical order among the ready ones (a stable order).
fn topological_order(models: &BTreeMap<String, Model>) -> Result<Vec<String>, SqlError> {
    let mut waiting: HashMap<&str, usize> = models.iter().map(|(n, m)| (n.as_str(), m.depends_on.len())).collect();
    let mut ready: Vec<&str> = waiting.iter().filter(|(_, d)| **d == 0).map(|(n, _)| *n).collect();
    let mut order = Vec::with_capacity(models.len());
    while !ready.is_empty() {
        ready.sort_unstable_by(|a, b| b.cmp(a));
        let next = ready.pop().expect("non-empty");
        order.push(next.to_string());
        for (name, m) in models {
            if m.depends_on.iter().any(|d| d == next) {
                let left = waiting.get_mut(name.as_str()).expect("every model waits");
                *left -= 1;
                if *left == 0 {
                    ready.push(name);
                }
            }
        }
    }
    if order.len() == models.len() {
        return Ok(order);
    }
    // Walk from a stuck model along stuck dependencies until a name repeats: that is a cycle.
    let stuck = |n: &str| waiting.get(n).is_some_and(|w| *w > 0);
    let mut path: Vec<String> = vec![models.keys().find(|n| stuck(n)).expect("a stuck model").clone()];
    loop {
        let current = &models[path.last().expect("non-empty")];
        let next = current.depends_on.iter().find(|d| stuck(d)).expect("a stuck model waits on a stuck model").clone();
        if let Some(start) = path.iter().position(|p| *p == next) {
            let mut cycle = path[start..].to_vec();
            cycle.push(next);
            let first = &models[&cycle[0]];
            let line = line_of(&first.sql, &cycle[1]);
            return Err(SqlError::Cycle { cycle, file: first.file.clone(), line });
        }
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    fn project(files: &[(&str, &str)]) -> Result<Project, SqlError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, sql) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, sql).unwrap();
        }
        let ctx = SessionContext::new();
        Project::discover(dir.path(), &ctx.state())
    }

    #[test]
    fn orders_models_by_their_references_and_ignores_ctes() {
        let p = project(&[
            ("b/top.sql", "with r as (select * from returns) select * from r"),
            ("a/returns.sql", "select * from lake.index_levels cross join config.params"),
        ])
        .unwrap();
        let names: Vec<_> = p.models.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["returns", "top"]);
        assert_eq!(p.model("top").unwrap().depends_on, ["returns"]);
        assert_eq!(p.model("returns").unwrap().inputs, ["config.params", "lake.index_levels"]);
    }

    #[test]
    fn data_tests_are_found_beside_models_and_guard_what_they_read() {
        let p =
            project(&[("m.sql", "select 1 as x"), ("m_positive.test.sql", "select * from m where x <= 0")]).unwrap();
        assert_eq!(p.models.len(), 1);
        assert_eq!(p.tests.len(), 1);
        assert_eq!(
            (p.tests[0].name.as_str(), p.tests[0].guards.as_slice()),
            ("m_positive", ["m".to_string()].as_slice())
        );
    }

    #[test]
    fn selectors_pick_models_upstream_and_downstream() {
        let p = project(&[
            ("a.sql", "select 1 as x"),
            ("b.sql", "select * from a"),
            ("c.sql", "select * from b"),
            ("d.sql", "select 2 as y"),
        ])
        .unwrap();
        let sel = |s: &[&str]| {
            let v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
            p.select(&v, &Contracts::default()).map(|set| set.into_iter().collect::<Vec<_>>().join(","))
        };
        assert_eq!(sel(&["b"]).unwrap(), "b");
        assert_eq!(sel(&["b+"]).unwrap(), "b,c");
        assert_eq!(sel(&["+b"]).unwrap(), "a,b");
        assert_eq!(sel(&["+c", "d"]).unwrap(), "a,b,c,d");
        assert!(sel(&["zz+"]).unwrap_err().to_string().contains("there is no model zz"));
        assert!(sel(&["tag:x"]).unwrap_err().to_string().contains("no model's contract has the tag \"x\""));
    }

    #[test]
    fn unknown_table_names_file_and_line() {
        let err = project(&[("m.sql", "select *\nfrom nope")]).unwrap_err().to_string();
        assert!(err.ends_with("m.sql:2: unknown table nope: not a model, nor lake.<table> or config.<table>"), "{err}");
    }

    #[test]
    fn cycle_is_named() {
        let err = project(&[("a.sql", "select * from b"), ("b.sql", "select * from c"), ("c.sql", "select * from a")])
            .unwrap_err()
            .to_string();
        assert!(err.ends_with("a.sql:1: models form a cycle: a → b → c → a"), "{err}");
    }

    #[test]
    fn duplicate_names_across_folders_are_an_error() {
        let err = project(&[("x/m.sql", "select 1"), ("y/m.sql", "select 2")]).unwrap_err().to_string();
        assert!(err.starts_with("model m is defined twice"), "{err}");
    }

    #[test]
    fn syntax_error_names_the_file_and_position() {
        let err = project(&[("bad.sql", "select a\n  from t\n where a = = 1")]).unwrap_err().to_string();
        assert!(err.contains("bad.sql: line 3, column 12: Expected: an expression, found: ="), "{err}");
    }

    #[test]
    fn a_model_must_be_a_query() {
        let err = project(&[("ddl.sql", "create table t (a int)")]).unwrap_err().to_string();
        assert!(
            err.ends_with("ddl.sql: a model must be one query (SELECT or WITH …), found another kind of statement"),
            "{err}"
        );
    }
}
