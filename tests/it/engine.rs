//! The equal-weight engine (SPEC §5, sql/intermediate/rebalance_members.sql and
//! sql/exhibits/constituent_index.sql) checked against a second implementation: a plain loop
//! over the rows that carries each member's weight forward day by day, as an index calculator
//! would, instead of the models' ratio of levels.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::NaiveDate;

use crate::support::{Rows, date, exhibits_ok, read_dataset, repo, write_pipeline};

/// One row of the canonical constituents file.
#[derive(Clone)]
struct Row {
    day: usize,
    id: usize,
    sector: &'static str,
    code: &'static str,
    shares: f64,
    close: f64,
    dividend: f64,
}

const DAYS: [&str; 10] = [
    "2024-07-01",
    "2024-07-02",
    "2024-07-03",
    "2024-07-05",
    "2024-07-08",
    "2024-07-09",
    "2024-07-10",
    "2024-07-11",
    "2024-07-12",
    "2024-07-15",
];
/// Weights are set at the close of D1 and D5.
const REBALANCES: [usize; 2] = [1, 5];

/// Seven securities over ten days, with every case of SPEC §5:
/// 1 a plain member; 2 deleted (stops trading after D3, inside the first block); 3 no price on
/// D7 (its D8 return spans two days); 4 changes sector on D4 (the second rebalance uses the new
/// one); 5 pays a dividend on D6; 6 lists on D3 (joins at the second rebalance); 7 moves from X
/// to Y on D6 (cap-weighted X and Y follow the row's index; the equal-weight basket keeps it
/// until the next rebalance).
fn universe() -> Vec<Row> {
    let mut rows = Vec::new();
    for id in 1..=7usize {
        for day in 0..DAYS.len() {
            let listed = match id {
                2 => day <= 3,
                3 => day != 7,
                6 => day >= 3,
                _ => true,
            };
            if !listed {
                continue;
            }
            let sector = match (id, day) {
                (1 | 2 | 6, _) => "Tech",
                (4, d) if d >= 4 => "Health",
                (3 | 4 | 7, _) => "Energy",
                _ => "Health",
            };
            let code = if id == 7 && day >= 6 { "Y" } else { "X" };
            // Closes printed with 4 decimals, read back as written.
            let wiggle = ((id * 37 + day * 101) % 17) as f64 * 0.01 - 0.08;
            let close = format!("{:.4}", (20.0 + 7.0 * id as f64) * (1.0 + wiggle)).parse().unwrap();
            let dividend = if id == 5 && day == 6 { 0.5 } else { 0.0 };
            rows.push(Row { day, id, sector, code, shares: (1000 * id + 10 * day) as f64, close, dividend });
        }
    }
    rows.sort_by_key(|r| (r.day, r.id));
    rows
}

/// What the loop computes for one (index, scheme, day).
#[derive(Debug, Default, Clone, Copy)]
struct Day {
    total: Option<f64>,
    price: Option<f64>,
    total_level: f64,
    price_level: f64,
    members: i64,
    priced: i64,
    without_price: i64,
}

/// Everything the engine publishes, recomputed by loops.
struct Expected {
    days: BTreeMap<(String, String, usize), Day>,
    weights: BTreeMap<(String, usize, usize), f64>,
    turnover: BTreeMap<(String, usize), f64>,
}

fn loop_engine(rows: &[Row]) -> Expected {
    let at: HashMap<(usize, usize), &Row> = rows.iter().map(|r| ((r.id, r.day), r)).collect();
    let last_day: HashMap<usize, usize> = rows.iter().fold(HashMap::new(), |mut m, r| {
        m.insert(r.id, r.day.max(*m.get(&r.id).unwrap_or(&0)));
        m
    });
    // The security's previous row (its own previous priced day).
    let prev = |id: usize, day: usize| (0..day).rev().find_map(|d| at.get(&(id, d)).copied());
    let ret = |r: &Row| prev(r.id, r.day).map(|p| ((r.close + r.dividend) / p.close - 1.0, r.close / p.close - 1.0, p));

    let mut days = BTreeMap::new();
    // Cap-weighted: weights shares × close of the previous row, over the index of the day's row.
    for code in ["X", "Y"] {
        let (mut lt, mut lp, mut started) = (1000.0, 1000.0, false);
        for day in 0..DAYS.len() {
            let (mut wt, mut st, mut sp, mut n) = (0.0, 0.0, 0.0, 0);
            for r in rows.iter().filter(|r| r.day == day && r.code == code) {
                if let Some((t, p, pr)) = ret(r) {
                    let w = pr.shares * pr.close;
                    wt += w;
                    st += w * t;
                    sp += w * p;
                    n += 1;
                }
            }
            if n == 0 {
                continue;
            }
            if !started {
                // Base: the trading day before the first return, at 1000.
                days.insert(
                    (code.into(), "cap".into(), day - 1),
                    Day { total_level: 1000.0, price_level: 1000.0, ..Day::default() },
                );
                started = true;
            }
            lt *= 1.0 + st / wt;
            lp *= 1.0 + sp / wt;
            days.insert(
                (code.into(), "cap".into(), day),
                Day {
                    total: Some(st / wt),
                    price: Some(sp / wt),
                    total_level: lt,
                    price_level: lp,
                    members: n,
                    priced: n,
                    without_price: 0,
                },
            );
        }
    }

    // Equal and sector-equal: baskets set at each rebalance close, weights carried forward.
    let mut weights = BTreeMap::new();
    let mut turnover = BTreeMap::new();
    for scheme in ["equal", "sector_equal"] {
        let (mut lt, mut lp) = (1000.0, 1000.0);
        // id → (w0, total growth, price growth) of the current basket
        let mut basket: BTreeMap<usize, (f64, f64, f64)> = BTreeMap::new();
        for day in 0..DAYS.len() {
            if !basket.is_empty() {
                let (mut nt, mut dt, mut np, mut dp, mut priced) = (0.0, 0.0, 0.0, 0.0, 0);
                for (id, (w0, gt, gp)) in basket.iter_mut() {
                    let Some(r) = at.get(&(*id, day)) else { continue };
                    let (t, p, _) = ret(r).expect("a member has a row on its rebalance date");
                    nt += *w0 * *gt * t;
                    dt += *w0 * *gt;
                    np += *w0 * *gp * p;
                    dp += *w0 * *gp;
                    *gt *= 1.0 + t;
                    *gp *= 1.0 + p;
                    priced += 1;
                }
                let deleted = basket.keys().filter(|id| last_day[id] < day).count() as i64;
                let members = basket.len() as i64;
                let (t, p) = (nt / dt, np / dp);
                lt *= 1.0 + t;
                lp *= 1.0 + p;
                days.insert(
                    ("X".into(), scheme.into(), day),
                    Day {
                        total: Some(t),
                        price: Some(p),
                        total_level: lt,
                        price_level: lp,
                        members,
                        priced,
                        without_price: members - priced - deleted,
                    },
                );
            }
            if REBALANCES.contains(&day) {
                let members: Vec<&Row> = rows.iter().filter(|r| r.day == day && r.code == "X").collect();
                let mut per_sector: BTreeMap<&str, usize> = BTreeMap::new();
                for m in &members {
                    *per_sector.entry(m.sector).or_default() += 1;
                }
                let new: BTreeMap<usize, f64> = members
                    .iter()
                    .map(|m| {
                        let w = match scheme {
                            "equal" => 1.0 / members.len() as f64,
                            _ => 1.0 / (per_sector.len() * per_sector[m.sector]) as f64,
                        };
                        (m.id, w)
                    })
                    .collect();
                if !basket.is_empty() {
                    // The old basket drifted to this close, over the members priced today.
                    let drifted: BTreeMap<usize, f64> = basket
                        .iter()
                        .filter(|(id, _)| at.contains_key(&(**id, day)))
                        .map(|(id, (w0, gt, _))| (*id, w0 * gt))
                        .collect();
                    let sum: f64 = drifted.values().sum();
                    let ids: BTreeSet<usize> = drifted.keys().chain(new.keys()).copied().collect();
                    let t: f64 = ids
                        .iter()
                        .map(|id| (new.get(id).unwrap_or(&0.0) - drifted.get(id).map_or(0.0, |w| w / sum)).abs())
                        .sum::<f64>()
                        / 2.0;
                    turnover.insert((scheme.to_string(), day), t);
                } else {
                    days.insert(
                        ("X".into(), scheme.into(), day),
                        Day { total_level: 1000.0, price_level: 1000.0, ..Day::default() },
                    );
                }
                for (id, w) in &new {
                    weights.insert((scheme.to_string(), day, *id), *w);
                }
                basket = new.into_iter().map(|(id, w)| (id, (w, 1.0, 1.0))).collect();
            }
        }
    }
    Expected { days, weights, turnover }
}

fn write_universe(dir: &Path, rows: &[Row]) {
    let mut csv = String::from("date,security_id,ticker,sector,index_code,shares,close,dividend\n");
    for r in rows {
        csv += &format!(
            "{},{},T{},{},{},{},{:.4},{}\n",
            DAYS[r.day], r.id, r.id, r.sector, r.code, r.shares, r.close, r.dividend
        );
    }
    std::fs::write(dir.join("constituents.csv"), csv).unwrap();
    let pipeline = format!(
        r#"name = "engine"
models = {models:?}
lake = "var/lake"
[publish]
url = "var/publish"
datasets = ["constituent_index", "rebalance_weights", "rebalance_turnover"]
[[sources]]
name = "universe"
format = "canonical_constituents"
path = "constituents.csv"
[rebalance]
schedule = "dates"
dates = [{d1}, {d5}]
"#,
        models = repo().join("sql"),
        d1 = DAYS[REBALANCES[0]],
        d5 = DAYS[REBALANCES[1]],
    );
    write_pipeline(dir, "engine.toml", &pipeline);
}

fn day_of(d: NaiveDate) -> usize {
    DAYS.iter().position(|x| date(x) == d).unwrap()
}

#[test]
fn engine_agrees_with_a_plain_loop_on_a_small_universe() {
    let dir = tempfile::tempdir().unwrap();
    let rows = universe();
    write_universe(dir.path(), &rows);
    let as_of = DAYS[DAYS.len() - 1];
    // Only the engine's models: this pipeline has no index levels or yields (nor their params).
    let select = "--select=+constituent_index,+rebalance_weights,+rebalance_turnover";
    exhibits_ok(dir.path(), &["run", "--pipeline", "engine.toml", "--as-of", as_of, select], 0);
    let publish = dir.path().join("var/publish");
    let want = loop_engine(&rows);
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);

    let index = Rows { batch: read_dataset(&publish, "constituent_index", as_of) };
    let mut seen = BTreeSet::new();
    for i in 0..index.len() {
        let key = (index.text("index_code", i), index.text("scheme", i), day_of(index.date("date", i)));
        let w = want.days.get(&key).unwrap_or_else(|| panic!("the loop has no row {key:?}"));
        let opt = |c: &str| index.f64(c, i);
        let int = |c: &str| if index.batch.column_by_name(c).unwrap().is_null(i) { 0 } else { index.i64(c, i) };
        assert!(
            opt("total_return").zip(w.total).is_none_or(|(a, b)| close(a, b)),
            "{key:?} total {:?} vs {:?}",
            opt("total_return"),
            w.total
        );
        assert_eq!(opt("total_return").is_some(), w.total.is_some(), "{key:?}");
        assert!(opt("price_return").zip(w.price).is_none_or(|(a, b)| close(a, b)), "{key:?} price");
        assert!(
            close(opt("total_return_level").unwrap(), w.total_level),
            "{key:?} level {:?} vs {}",
            opt("total_return_level"),
            w.total_level
        );
        assert!(close(opt("price_level").unwrap(), w.price_level), "{key:?} price level");
        assert_eq!(
            (int("members"), int("priced"), int("without_price")),
            (w.members, w.priced, w.without_price),
            "{key:?}"
        );
        seen.insert(key);
    }
    assert_eq!(seen, want.days.keys().cloned().collect(), "the same (index, scheme, day) rows");
    // The cases the universe was built for show up where they should.
    let x_sector = |d: usize| want.days[&("X".to_string(), "sector_equal".to_string(), d)];
    assert_eq!(x_sector(4).without_price, 0, "D4: security 2 was deleted, not missing");
    assert_eq!(
        (x_sector(7).members, x_sector(7).priced, x_sector(7).without_price),
        (6, 5, 1),
        "D7: security 3 unpriced"
    );

    let weights = Rows { batch: read_dataset(&publish, "rebalance_weights", as_of) };
    assert_eq!(weights.len(), want.weights.len());
    for i in 0..weights.len() {
        let key = (
            weights.text("scheme", i),
            day_of(weights.date("rebalance_date", i)),
            weights.text("security_id", i).parse().unwrap(),
        );
        assert!(close(weights.f64("weight", i).unwrap(), want.weights[&key]), "weight {key:?}");
    }
    // Point-in-time sector: security 4 counts as Health at the second rebalance (Tech {1, 6},
    // Energy {3, 7}, Health {4, 5}: 1/6 each); as Energy it would have had 1/9.
    assert!(close(want.weights[&("sector_equal".to_string(), 5, 4)], 1.0 / 6.0));
    assert!(close(want.weights[&("sector_equal".to_string(), 1, 4)], 1.0 / 9.0));

    let turnover = Rows { batch: read_dataset(&publish, "rebalance_turnover", as_of) };
    assert_eq!(turnover.len(), want.turnover.len());
    for i in 0..turnover.len() {
        let key = (turnover.text("scheme", i), day_of(turnover.date("rebalance_date", i)));
        assert!(close(turnover.f64("turnover", i).unwrap(), want.turnover[&key]), "turnover {key:?}");
        assert_eq!((turnover.i64("additions", i), turnover.i64("deletions", i)), (1, 1), "6 joins, 2 left");
    }
}

/// The engine over the generated universe (the nightly demo, as published in `publish`)
/// reproduces the generator's own index levels (`data/index_levels.csv`, computed by the
/// generator's loop as it writes the rows): R1000 and R2000 cap-weighted, R1000_EW and R2000_EW
/// sector-equal rebalanced on the first trading day of each quarter; price and total return.
/// Exhibit 7 between the baskets of 1 April and 1 July matches the rows of those days.
pub fn assert_engine_matches_generator(project: &Path, publish: &Path, as_of: &str) {
    let csv = std::fs::read_to_string(project.join("data/index_levels.csv")).unwrap();
    let mut generated: HashMap<(String, NaiveDate), (f64, f64)> = HashMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        generated.insert((f[1].to_string(), date(f[0])), (f[2].parse().unwrap(), f[3].parse().unwrap()));
    }
    let index = Rows { batch: read_dataset(publish, "constituent_index", as_of) };
    let mut compared: BTreeMap<String, usize> = BTreeMap::new();
    let mut worst: f64 = 0.0;
    for i in 0..index.len() {
        let id = match (index.text("index_code", i).as_str(), index.text("scheme", i).as_str()) {
            (code, "cap") => code.to_string(),
            (code, "sector_equal") => format!("{code}_EW"),
            _ => continue,
        };
        let d = index.date("date", i);
        let (price, total) = generated[&(id.clone(), d)];
        for (got, want) in
            [(index.f64("price_level", i).unwrap(), price), (index.f64("total_return_level", i).unwrap(), total)]
        {
            // The generator prints levels with 10 significant digits or more; 1e-9 relative.
            let rel = (got / want - 1.0).abs();
            worst = worst.max(rel);
            assert!(rel < 1e-9, "{id} {d}: engine {got}, generator {want}");
        }
        *compared.entry(id).or_default() += 1;
    }
    let days = generated.keys().filter(|(id, _)| id == "R1000").count();
    assert_eq!(
        compared,
        BTreeMap::from([
            ("R1000".into(), days),
            ("R1000_EW".into(), days),
            ("R2000".into(), days),
            ("R2000_EW".into(), days)
        ]),
        "every generated day of the four indexes (worst relative difference {worst:e})"
    );
    // Exhibit 7: the baskets of 1 April and 1 July 2024, from the rows of those days.
    let rows = std::fs::read_to_string(project.join("data/constituents_2024.csv")).unwrap();
    let mut basket: [BTreeMap<String, String>; 2] = Default::default();
    for line in rows.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let side = match f[0] {
            "2024-04-01" => 0,
            "2024-07-01" => 1,
            _ => continue,
        };
        basket[side].insert(f[2].to_string(), f[4].to_string());
    }
    let mut want: BTreeSet<(String, String)> = BTreeSet::new();
    for (ticker, code) in &basket[0] {
        match basket[1].get(ticker) {
            None => want.insert((ticker.clone(), "deletion".into())),
            Some(to) if to != code => want.insert((ticker.clone(), "migration".into())),
            Some(_) => false,
        };
    }
    want.extend(basket[1].keys().filter(|t| !basket[0].contains_key(*t)).map(|t| (t.clone(), "addition".to_string())));
    let changes = Rows { batch: read_dataset(publish, "membership_changes", as_of) };
    let got: BTreeSet<(String, String)> =
        (0..changes.len()).map(|i| (changes.text("ticker", i), changes.text("change", i))).collect();
    assert_eq!(got.len(), changes.len());
    assert_eq!(got, want);
    assert!(want.iter().filter(|(_, c)| c == "migration").count() > 10, "the June reconstitution moves securities");

    // Exhibit 5 shows the delivered EW series beside the engine's: they track to rounding.
    let ex5 = Rows { batch: read_dataset(publish, "cap_vs_equal", as_of) };
    assert_eq!(ex5.len(), 2 * (days - 1));
    for i in 0..ex5.len() {
        let td = ex5.f64("tracking_difference_pp", i).expect("the generator delivers R1000_EW and R2000_EW");
        assert!(td.abs() < 1e-9, "{} {}: tracking difference {td} pp", ex5.text("index_code", i), ex5.date("date", i));
    }
}
