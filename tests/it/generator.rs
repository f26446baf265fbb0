//! `exhibits gen`: layout, determinism, and its index levels checked by a second implementation.

use std::path::Path;
use std::process::Command;

use crate::support::{exhibits_ok, repo};

fn generate_drop(dir: &Path, seed: &str) -> serde_json::Value {
    exhibits_ok(dir, &["gen", "--scale", "s", "--out", dir.to_str().unwrap(), "--seed", seed], 0).summary
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b, c) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_drop(a.path(), "7");
    generate_drop(b.path(), "7");
    generate_drop(c.path(), "8");
    for f in ["constituents_2024.csv", "treasury_10y.csv", "index_levels.csv", "manifest.json"] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert!(x == std::fs::read(b.path().join(f)).unwrap(), "{f} differs between two runs with seed 7");
        if f != "manifest.json" {
            assert!(x != std::fs::read(c.path().join(f)).unwrap(), "{f} is the same with seeds 7 and 8");
        }
    }
}

#[test]
fn scale_s_is_a_russell_3000_like_year_in_the_canonical_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let s = generate_drop(dir.path(), "42");
    assert_eq!(s["years"], serde_json::json!([2024]));
    assert_eq!(s["first_date"], "2024-01-02");
    assert_eq!(s["last_date"], "2024-12-31");
    let rows = s["constituent_rows"].as_u64().unwrap();
    // ~3,000 live securities on each of the 252 NYSE trading days of 2024.
    assert!((700_000..820_000).contains(&rows), "{rows} rows");
    let text = std::fs::read_to_string(dir.path().join("constituents_2024.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("date,security_id,ticker,sector,index_code,shares,close,dividend"));
    let (mut sectors, mut codes, mut payouts, mut per_day) =
        (std::collections::BTreeSet::new(), std::collections::BTreeSet::new(), 0, std::collections::BTreeMap::new());
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 8, "{l}");
        sectors.insert(f[3].to_string());
        codes.insert(f[4].to_string());
        assert!(f[6].parse::<f64>().unwrap() > 0.0, "{l}");
        payouts += usize::from(f[7] != "0");
        *per_day.entry(f[0].to_string()).or_insert(0) += 1;
    }
    assert_eq!(sectors.len(), 11);
    assert_eq!(codes, ["R1000".to_string(), "R2000".to_string()].into());
    assert!(payouts > 1000, "dividends on ex-dates: {payouts}");
    assert_eq!(per_day.len(), 252);
    assert!(per_day.values().all(|n| (2_700..3_300).contains(n)), "live securities per day");
    assert!(!per_day.contains_key("2024-07-04") && !per_day.contains_key("2024-03-29"), "holidays are skipped");
    let levels = std::fs::read_to_string(dir.path().join("index_levels.csv")).unwrap();
    assert!(levels.starts_with("date,index_id,price_level,total_return_level\n2024-01-02,R1000,1000.0,1000.0\n"));
    assert!(
        std::fs::read_to_string(dir.path().join("treasury_10y.csv"))
            .unwrap()
            .starts_with("date,yield_pct\n2024-01-02,")
    );
}

/// The generator's index levels, recomputed from its constituents by an independent Python
/// implementation (standard library only), agree to 1e-12.
#[test]
fn index_levels_agree_with_an_independent_recomputation() {
    let dir = tempfile::tempdir().unwrap();
    generate_drop(dir.path(), "42");
    let out = Command::new("python3")
        .arg(repo().join("tests/gen/check_gen_levels.py"))
        .arg(dir.path())
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(facts["worst_relative_difference"].as_f64().unwrap() < 1e-12, "{facts}");
    assert_eq!(facts["unsorted_rows"], 0, "rows sorted by date then security: {facts}");
    assert_eq!(facts["days"], 252);
    // Listings and delistings move the R1000 count between reconstitutions; the June
    // reconstitution resets it to the top 1,000 by cap (plus listings above the cut-off after).
    let after = facts["r1000_first_july_day"].as_u64().unwrap();
    assert!((980..1020).contains(&after), "{facts}");
}
