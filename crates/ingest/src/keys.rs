//! Which (date, id) a source's files have delivered, to quarantine a row delivered twice —
//! by the file itself or by another file of the source — without holding every key of a big
//! file in memory.
//!
//! Within a file whose rows come in date order (ascending or descending: every vendor file),
//! only the current date's ids are kept. A file that returns to a date it left is read again
//! with every key kept (memory then grows with the file: the price of an unordered file).
//!
//! Across files, each other file is known by its date range (from its ledger entry, or from
//! this run's reading); its keys are loaded only when a row falls inside that range. Yearly
//! or daily files of a source cover disjoint dates and load nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::IngestError;

/// An earlier delivery of a row's (date, id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Earlier {
    /// A line of the same file.
    Line(u64),
    /// Another file of the source.
    File(String),
}

/// A file of the source other than the one being read.
struct Other {
    name: String,
    /// Its first and last date (days since the epoch).
    range: (i32, i32),
    /// The folder of its Parquet partitions.
    dir: PathBuf,
    loaded: bool,
}

/// The keys of one source's files (see the module's documentation).
#[derive(Default)]
pub struct Keys {
    /// Ids as numbers: a key is (date, id number) in one `u64`.
    ids: HashMap<String, u32>,
    /// Every key is kept for the current file (it is not in date order).
    every_key: bool,
    all: HashMap<u64, u64>,
    day: Option<i32>,
    today: HashMap<u32, u64>,
    days_done: HashSet<i32>,
    revisited: bool,
    others: Vec<Other>,
    /// The loaded keys of other files, with the index of the first that holds each.
    held: HashMap<u64, usize>,
    /// The others whose range holds `near_day`.
    near: Vec<usize>,
    near_day: Option<i32>,
    /// The lake's folder, the source and the files of this run (whose lake rows they replace).
    lake: Option<(PathBuf, String, Vec<String>)>,
    /// The table the others are of.
    table: Option<String>,
}

fn key(day: i32, id: u32) -> u64 {
    ((day as u32 as u64) << 32) | id as u64
}

impl Keys {
    /// The keys of `source`'s files in the lake under `lake_root`, other than the files named
    /// in `except` (being read again in this run).
    pub fn in_lake(lake_root: &Path, source: &str, except: &[String]) -> Keys {
        Keys { lake: Some((lake_root.to_path_buf(), source.to_string(), except.to_vec())), ..Keys::default() }
    }

    /// The lake's files of the source in `table` become the others (once per table).
    fn use_table(&mut self, table: &str) {
        if self.table.as_deref() == Some(table) {
            return;
        }
        self.table = Some(table.to_string());
        self.others.clear();
        self.held.clear();
        self.near_day = None;
        let Some((lake_root, source, except)) = &self.lake else { return };
        let dir = lake_root.join(table).join(format!("source={source}"));
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        let mut found: Vec<(String, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().strip_prefix("file=")?.to_string();
                Some((name, e.path()))
            })
            .filter(|(name, _)| !except.contains(name))
            .collect();
        found.sort();
        for (name, dir) in found {
            // The ledger says which dates the file holds; without an entry, any date.
            let ledger = lake_root.join(format!("ledger/{}.json", crate::Lake::part_of(source, &name)));
            let range = std::fs::read(&ledger)
                .ok()
                .and_then(|b| serde_json::from_slice::<crate::LedgerEntry>(&b).ok())
                .map(|e| (e.report.min_date, e.report.max_date));
            let days = |d: Option<chrono::NaiveDate>| d.map(exhibits_core::calendar::epoch_days);
            let range = match range {
                Some((lo, hi)) => match (days(lo), days(hi)) {
                    (Some(lo), Some(hi)) => (lo, hi),
                    _ => continue, // a file without accepted rows holds no key
                },
                None => (i32::MIN, i32::MAX),
            };
            self.others.push(Other { name, range, dir, loaded: false });
        }
    }

    /// Starts a file of `table`: its own keys are forgotten; `every_key` keeps all of them (a
    /// file not in date order).
    pub(crate) fn begin_file(&mut self, table: &str, every_key: bool) {
        self.use_table(table);
        self.every_key = every_key;
        self.all.clear();
        self.today.clear();
        self.days_done.clear();
        self.day = None;
        self.revisited = false;
    }

    /// The file just read is one of the others for the next files: `dir` holds its partitions.
    pub(crate) fn end_file(&mut self, name: &str, range: Option<(i32, i32)>, dir: &Path) {
        self.near_day = None;
        if let Some(range) = range {
            self.others.push(Other { name: name.to_string(), range, dir: dir.to_path_buf(), loaded: false });
        }
    }

    /// The file returned to a date it had left while only the current date's keys were kept:
    /// it must be read again with every key.
    pub(crate) fn revisited(&self) -> bool {
        self.revisited
    }

    /// Where (date, id) at `line` was delivered before, if it was; else it is noted as delivered.
    pub(crate) fn earlier(&mut self, day: i32, id: &str, line: u64) -> Result<Option<Earlier>, IngestError> {
        let next = self.ids.len() as u32;
        let id = match self.ids.get(id) {
            Some(n) => *n,
            None => *self.ids.entry(id.to_string()).or_insert(next),
        };
        let k = key(day, id);
        if self.near_day != Some(day) {
            self.near_day = Some(day);
            self.near = (0..self.others.len())
                .filter(|i| (self.others[*i].range.0..=self.others[*i].range.1).contains(&day))
                .collect();
            for i in self.near.clone() {
                if !self.others[i].loaded {
                    self.load(i)?;
                }
            }
        }
        if !self.near.is_empty()
            && let Some(other) = self.held.get(&k)
        {
            return Ok(Some(Earlier::File(self.others[*other].name.clone())));
        }
        if self.every_key {
            return Ok(match self.all.entry(k) {
                std::collections::hash_map::Entry::Occupied(first) => Some(Earlier::Line(*first.get())),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(line);
                    None
                }
            });
        }
        if self.day != Some(day) {
            if self.days_done.contains(&day) {
                self.revisited = true;
                return Ok(None);
            }
            if let Some(done) = self.day {
                self.days_done.insert(done);
            }
            self.day = Some(day);
            self.today.clear();
        }
        Ok(match self.today.entry(id) {
            std::collections::hash_map::Entry::Occupied(first) => Some(Earlier::Line(*first.get())),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(line);
                None
            }
        })
    }

    /// Loads the keys of other file `i` (its date and id columns).
    fn load(&mut self, i: usize) -> Result<(), IngestError> {
        use arrow::array::AsArray;
        self.others[i].loaded = true;
        for path in crate::parquet_files(&self.others[i].dir) {
            let encode = |e: &dyn std::fmt::Display| IngestError::Encode { root: path.clone(), message: e.to_string() };
            let f = std::fs::File::open(&path).map_err(|source| IngestError::Read { file: path.clone(), source })?;
            let builder =
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| encode(&e))?;
            let id_column = builder.schema().fields().iter().map(|f| f.name().clone()).find(|n| n.ends_with("_id"));
            let Some(id_column) = id_column else { continue };
            let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), ["date", id_column.as_str()]);
            for batch in builder.with_projection(mask).build().map_err(|e| encode(&e))? {
                let batch = batch.map_err(|e| encode(&e))?;
                let dates =
                    batch.column_by_name("date").expect("projected").as_primitive::<arrow::datatypes::Date32Type>();
                let ids = batch.column_by_name(&id_column).expect("projected").as_string::<i32>();
                for (day, id) in dates.values().iter().zip(ids.iter()) {
                    let next = self.ids.len() as u32;
                    let n = *self.ids.entry(id.unwrap_or_default().to_string()).or_insert(next);
                    let held = self.held.entry(key(*day, n)).or_insert(i);
                    *held = (*held).min(i);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordered_file_keeps_one_date_and_an_unordered_one_asks_to_be_read_again() {
        let mut keys = Keys::default();
        keys.begin_file("t", false);
        assert_eq!(keys.earlier(10, "a", 2).unwrap(), None);
        assert_eq!(keys.earlier(10, "b", 3).unwrap(), None);
        assert_eq!(keys.earlier(10, "a", 4).unwrap(), Some(Earlier::Line(2)));
        assert_eq!(keys.earlier(9, "a", 5).unwrap(), None, "descending order is an order");
        assert_eq!((keys.today.len(), keys.revisited()), (1, false));
        assert_eq!(keys.earlier(10, "c", 6).unwrap(), None);
        assert!(keys.revisited(), "10 was left for 9");

        keys.begin_file("t", true);
        for (line, (day, id)) in [(10, "a"), (9, "a"), (10, "b")].into_iter().enumerate() {
            assert_eq!(keys.earlier(day, id, line as u64 + 2).unwrap(), None);
        }
        assert_eq!(keys.earlier(10, "a", 5).unwrap(), Some(Earlier::Line(2)));
        assert!(!keys.revisited());
    }

    #[test]
    fn another_file_is_read_only_for_rows_within_its_dates() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = Keys::default();
        keys.begin_file("t", false);
        assert_eq!(keys.earlier(100, "a", 2).unwrap(), None);
        keys.end_file("first.csv", Some((100, 100)), dir.path());
        keys.begin_file("t", false);
        assert_eq!(keys.earlier(101, "a", 2).unwrap(), None);
        assert!(!keys.others[0].loaded, "a date outside the other file's range reads nothing");
        assert_eq!(keys.earlier(100, "a", 3).unwrap(), None, "nothing staged in the folder");
        assert!(keys.others[0].loaded);
    }
}
