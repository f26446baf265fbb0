//! `exhibits-gen`: a deterministic synthetic vendor drop for a Russell-3000-like universe.
//!
//! [`generate`] writes, into one folder, the canonical layouts of SPEC §3:
//!
//! | file | header | grain |
//! |---|---|---|
//! | `constituents_YYYY.csv` | `date,security_id,ticker,sector,index_code,shares,close,dividend` | one row per live security per trading day, sorted by date then security |
//! | `treasury_10y.csv` | `date,yield_pct` | one row per trading day |
//! | `index_levels.csv` | `date,index_id,price_level,total_return_level` | one row per index per trading day |
//! | `manifest.json` | | what was written: files, rows, bytes, seed |
//!
//! # The model
//!
//! - **Calendar**: the US trading calendar of [`exhibits_core::calendar`].
//! - **Universe**: 3,000 securities at the start, 11 GICS sectors. Each year about 7 % delist on
//!   a random day and about 7 % list on a random day (plus half the shortfall below 3,000); a
//!   security whose close falls below $1 is delisted that day.
//! - **Prices**: `r = β·market + s·size + sector + idiosyncratic`, every factor a Student-t(4)
//!   scaled to unit variance (fat tails) under a common AR(1) log-volatility regime; clipped to
//!   [−80 %, +300 %]. About half the securities pay quarterly dividends: on the ex-date the price
//!   drops by the dividend, so `(close + dividend) / previous close − 1` is the total return.
//!   Shares outstanding change on about 1 day in 750 (issuance, buy-backs).
//! - **Reconstitution**: securities are ranked by `shares × close` on the last trading day of May;
//!   from the first trading day after the fourth Friday of June the top 1,000 are `R1000`, the
//!   rest `R2000`. A new listing joins `R1000` if its cap reaches the last ranking's cut-off.
//! - **Yields**: the 10-year yield is a mean-reverting random walk, negatively correlated with
//!   the market factor, in percent with 3 decimals.
//!
//! # The index levels it writes
//!
//! All computed from the values as written (closes in cents, dividends to 4 decimals, whole
//! shares), so that an engine reading the CSV files can reproduce them. Every level is 1000 on
//! the first trading day, which has no return.
//!
//! - `R1000`, `R2000`, `R3000` (cap-weighted): the return on day t is `Σ w·r / Σ w` with
//!   `w = shares(t−1) × close(t−1)`, over the securities in the index on day t (R3000: all) that
//!   have a return on t (not their listing day). Total return uses
//!   `(close + dividend) / close(t−1) − 1`, price return `close / close(t−1) − 1`.
//! - `R1000_EW`, `R2000_EW` (sector-equal weighted, FTSE Russell's equal-weight rule): rebalanced
//!   at the close of the first trading day of each quarter, when each sector with members gets
//!   `1/K` and each member `1/(K·n_sector)`. Weights then drift with each member's return; a
//!   member that stops trading drops out and the rest are re-spread pro rata; a listing joins at
//!   the next rebalance. The return on day t uses the block of the last rebalance strictly
//!   before t. The price index drifts with price returns, the total-return index with total
//!   returns. These are the rules of `../shared/bench/WORKLOAD.md` (SEW).
//!
//! The same seed always gives the same bytes; memory does not grow with the number of years
//! (one trading day is generated and written at a time).

mod format;
mod universe;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use exhibits_core::calendar;
use rand::SeedableRng;
use rand::distr::Distribution;
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

use crate::format::Line;
use crate::universe::{DayFactors, Universe, student_t4};

/// The size of a generated drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 1 year (about 0.76 million constituent rows).
    S,
    /// 5 years (about 3.8 million rows).
    M,
    /// 25 years (about 19 million rows).
    L,
}

impl Scale {
    /// The number of calendar years generated.
    pub fn years(self) -> i32 {
        match self {
            Scale::S => 1,
            Scale::M => 5,
            Scale::L => 25,
        }
    }
}

/// What to generate, and where.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub out: PathBuf,
    pub years: i32,
    /// The last calendar year generated.
    pub end_year: i32,
    pub seed: u64,
}

/// An error writing the drop.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid generator options: {0}")]
    Options(String),
}

/// One file of the drop.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileSummary {
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
}

/// What [`generate`] wrote; also written as `manifest.json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GenSummary {
    pub seed: u64,
    pub years: Vec<i32>,
    pub first_date: String,
    pub last_date: String,
    pub constituent_rows: u64,
    pub securities: u64,
    pub files: Vec<FileSummary>,
}

/// The index ids written to `index_levels.csv`, in the order they appear each day.
pub const INDEX_IDS: [&str; 5] = ["R1000", "R1000_EW", "R2000", "R2000_EW", "R3000"];

/// The sector names (GICS), as written in the `sector` column.
pub const SECTORS: [&str; 11] = [
    "Communication Services",
    "Consumer Discretionary",
    "Consumer Staples",
    "Energy",
    "Financials",
    "Health Care",
    "Industrials",
    "Information Technology",
    "Materials",
    "Real Estate",
    "Utilities",
];

struct CsvFile {
    path: PathBuf,
    out: BufWriter<File>,
    rows: u64,
}

impl CsvFile {
    fn create(dir: &Path, name: &str, header: &str) -> Result<CsvFile, GenError> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(|source| GenError::Write { path: path.clone(), source })?;
        let mut w = CsvFile { path, out: BufWriter::with_capacity(1 << 20, file), rows: 0 };
        w.out.write_all(header.as_bytes()).map_err(|source| GenError::Write { path: w.path.clone(), source })?;
        Ok(w)
    }

    fn row(&mut self, line: &Line) -> Result<(), GenError> {
        self.rows += 1;
        self.out.write_all(line.as_bytes()).map_err(|source| GenError::Write { path: self.path.clone(), source })
    }

    fn finish(mut self) -> Result<FileSummary, GenError> {
        let err = |path: &Path| {
            let path = path.to_owned();
            move |source| GenError::Write { path, source }
        };
        self.out.flush().map_err(err(&self.path))?;
        let bytes = std::fs::metadata(&self.path).map_err(err(&self.path))?.len();
        let file = self.path.file_name().expect("file name").to_string_lossy().into_owned();
        Ok(FileSummary { file, rows: self.rows, bytes })
    }
}

/// `Σ weight·return / Σ weight` for the total-return and the price index of one day.
#[derive(Default, Clone, Copy)]
struct WeightedReturn {
    weight_tr: f64,
    sum_tr: f64,
    weight_pr: f64,
    sum_pr: f64,
}

impl WeightedReturn {
    fn add(&mut self, weight_tr: f64, total: f64, weight_pr: f64, price: f64) {
        self.weight_tr += weight_tr;
        self.sum_tr += weight_tr * total;
        self.weight_pr += weight_pr;
        self.sum_pr += weight_pr * price;
    }

    /// Applies the day's return to `(price, total)` levels; no members means no return.
    fn apply(&self, levels: &mut (f64, f64)) {
        if self.weight_pr > 0.0 {
            levels.0 *= 1.0 + self.sum_pr / self.weight_pr;
        }
        if self.weight_tr > 0.0 {
            levels.1 *= 1.0 + self.sum_tr / self.weight_tr;
        }
    }
}

const BASE_LEVEL: f64 = 1000.0;

/// The first trading day of a calendar quarter: the sector-equal rebalance dates.
fn is_quarter_start(days: &[NaiveDate], t: usize) -> bool {
    let m = days[t].month();
    matches!(m, 1 | 4 | 7 | 10) && (t == 0 || days[t - 1].month() != m)
}

/// Writes a synthetic drop; see the crate documentation for the model.
pub fn generate(opts: &GenOptions) -> Result<GenSummary, GenError> {
    if !(1..=100).contains(&opts.years) {
        return Err(GenError::Options(format!("years must be 1..=100, got {}", opts.years)));
    }
    std::fs::create_dir_all(&opts.out).map_err(|source| GenError::Write { path: opts.out.clone(), source })?;
    let years: Vec<i32> = (opts.end_year - opts.years + 1..=opts.end_year).collect();
    let mut rng = Pcg64Mcg::seed_from_u64(opts.seed);
    let mut universe = Universe::new(&mut rng);

    let mut files = Vec::new();
    let mut yields = CsvFile::create(&opts.out, "treasury_10y.csv", "date,yield_pct\n")?;
    let mut levels_out =
        CsvFile::create(&opts.out, "index_levels.csv", "date,index_id,price_level,total_return_level\n")?;
    // (price, total return) per index, in INDEX_IDS order.
    let mut levels = [(BASE_LEVEL, BASE_LEVEL); INDEX_IDS.len()];
    let mut yield_pct = 4.0_f64;
    let mut log_vol = 0.0_f64;
    let mut line = Line::default();
    let mut constituent_rows = 0;
    let mut dates: Option<(NaiveDate, NaiveDate)> = None;

    for &year in &years {
        let days = calendar::trading_days(year);
        let rank_day = days.iter().rposition(|d| d.month() == 5).expect("May has trading days");
        let fourth_friday = NaiveDate::from_weekday_of_month_opt(year, 6, chrono::Weekday::Fri, 4).expect("June");
        let effective_day = days.iter().position(|d| *d > fourth_friday).expect("trading days after June");
        universe.start_year(&mut rng, days.len());
        let mut out = CsvFile::create(
            &opts.out,
            &format!("constituents_{year}.csv"),
            "date,security_id,ticker,sector,index_code,shares,close,dividend\n",
        )?;

        for (t, day) in days.iter().enumerate() {
            let date = day.format("%Y-%m-%d").to_string();
            dates = Some((dates.map_or(*day, |d| d.0), *day));
            log_vol = 0.985 * log_vol + 0.06 * Distribution::<f64>::sample(&StandardNormal, &mut rng);
            let mult = log_vol.clamp(-0.7, 1.2).exp();
            let market_shock = student_t4(&mut rng);
            let mut factors = DayFactors {
                gday: universe.gday() + t as i64,
                market: 0.0003 + 0.009 * mult * market_shock,
                size: 0.004 * mult * student_t4(&mut rng),
                sector: [0.0; SECTORS.len()],
                mult,
            };
            for s in &mut factors.sector {
                *s = 0.005 * mult * student_t4(&mut rng);
            }
            if t == effective_day {
                universe.apply_reconstitution();
            }

            // Index returns of the day, in INDEX_IDS order.
            let mut day_returns = [WeightedReturn::default(); INDEX_IDS.len()];
            for sec in universe.live_mut(t) {
                let ret = sec.step(&mut rng, t, &factors);
                line.clear();
                line.text(&date).comma().int(sec.id).comma().text(&sec.ticker).comma();
                line.text(SECTORS[sec.sector as usize]).comma().text(sec.code.as_str()).comma();
                line.int(sec.shares_now).comma().fixed(sec.close_cents, 2).comma();
                line.fixed(sec.dividend_ten_thousandths, 4).newline();
                out.row(&line)?;
                let Some(r) = ret else { continue };
                let cap_index = 2 * sec.code as usize; // R1000 → 0, R2000 → 2
                day_returns[cap_index].add(r.prev_cap, r.total, r.prev_cap, r.price);
                day_returns[4].add(r.prev_cap, r.total, r.prev_cap, r.price);
                if let Some(k) = sec.ew.index {
                    let ew = &mut sec.ew;
                    day_returns[2 * k + 1].add(ew.w0 * ew.growth_tr, r.total, ew.w0 * ew.growth_pr, r.price);
                    ew.growth_tr *= 1.0 + r.total;
                    ew.growth_pr *= 1.0 + r.price;
                }
            }
            if t == rank_day {
                universe.rank(t);
            }
            if is_quarter_start(&days, t) {
                universe.rebalance_equal_weight(t);
            }
            for (k, id) in INDEX_IDS.iter().enumerate() {
                day_returns[k].apply(&mut levels[k]);
                line.clear();
                line.text(&date).comma().text(id).comma().float(levels[k].0).comma().float(levels[k].1).newline();
                levels_out.row(&line)?;
            }
            // Yields fall when equities rally (about −2 bp per standard deviation of the market).
            yield_pct = (yield_pct + 0.045 * student_t4(&mut rng) - 0.02 * mult * market_shock
                + 0.002 * (4.0 - yield_pct))
                .clamp(0.3, 9.0);
            line.clear();
            line.text(&date).comma().fixed((yield_pct * 1000.0).round() as i64, 3).newline();
            yields.row(&line)?;
        }
        constituent_rows += out.rows;
        files.push(out.finish()?);
        universe.end_year(days.len());
    }
    files.push(levels_out.finish()?);
    files.push(yields.finish()?);
    let (first, last) = dates.expect("at least one trading day");
    let summary = GenSummary {
        seed: opts.seed,
        years,
        first_date: first.to_string(),
        last_date: last.to_string(),
        constituent_rows,
        securities: universe.total_securities(),
        files,
    };
    let manifest = opts.out.join("manifest.json");
    let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
    std::fs::write(&manifest, json + "\n").map_err(|source| GenError::Write { path: manifest, source })?;
    Ok(summary)
}
