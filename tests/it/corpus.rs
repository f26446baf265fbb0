//! The broken-file corpus: vendor files as they arrive broken, written here, each read by the
//! real reader (`exhibits_ingest::read_source`, what `exhibits run` calls). A bad file gets one
//! error naming the file and what was expected; a bad row is quarantined with its line, column
//! and reason, and every file accounts for its rows (accepted + rejected = read).

use exhibits_core::pipeline::{Source, SourceFormat};

/// What reading a broken file must give.
enum Expect {
    /// One error whose text has all of these.
    BadFile(&'static [&'static str]),
    /// These (line, column, reason) quarantined, and this many rows accepted.
    Quarantined(&'static [(u64, Option<&'static str>, &'static str)], u64),
}

use Expect::{BadFile, Quarantined};
use SourceFormat::*;

const FRED_HEADER: &str = "observation_date,DGS10\n";

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Files whose source declares an encoding (`encoding = "…"` in the pipeline file).
fn declared() -> Vec<(&'static str, SourceFormat, &'static str, Vec<u8>, Expect)> {
    vec![
        (
            "Latin-1 where the source says UTF-8",
            YahooClose,
            "utf-8",
            b"Date,Close\n2024-07-01,1\n2024-07-02,caf\xe9\n".to_vec(),
            BadFile(&["not UTF-8 text (the source says encoding = \"utf-8\"): byte 0xE9 at line 3"]),
        ),
        ("Latin-1 as declared", Fred, "latin1", b"DATE,DGS10\n2024-07-01,4.4\xb0\n".to_vec(), {
            Quarantined(&[(2, Some("DGS10"), "expected a number, found \"4.4°\"")], 0)
        }),
        ("UTF-16 as declared", CanonicalYields, "utf-16le", utf16le("date,yield_pct\n2024-07-01,4.4\n"), {
            Quarantined(&[], 1)
        }),
    ]
}

fn corpus() -> Vec<(&'static str, SourceFormat, Vec<u8>, Expect)> {
    let yahoo = |body: &str| format!("Date,Close\n{body}").into_bytes();
    let levels = |body: &str| format!("date,index_id,price_level,total_return_level\n{body}").into_bytes();
    let constituents =
        |body: &str| format!("date,security_id,ticker,sector,index_code,shares,close,dividend\n{body}").into_bytes();
    vec![
        ("empty", YahooClose, vec![], BadFile(&["t.csv", "the file is empty; expected a header Date,Close"])),
        ("header only", YahooClose, yahoo(""), BadFile(&["has a header (Date,Close) but no rows"])),
        ("binary", YahooClose, b"\x89PNG\r\n\x1a\n\x00\x00".to_vec(), BadFile(&["binary data (NUL bytes)"])),
        (
            "Latin-1, read as Windows-1252",
            YahooClose,
            b"Date,Close\n2024-07-01,caf\xe9\n2024-07-02,\x80\n".to_vec(),
            Quarantined(
                &[
                    (2, Some("Close"), "expected a number, found \"café\""),
                    (3, Some("Close"), "expected a number, found \"€\""),
                ],
                0,
            ),
        ),
        (
            "UTF-16 with its byte-order mark",
            YahooClose,
            utf16le("\u{feff}Date,Close\r\n2024-07-01,100\r\n2024-07-02,x\r\n"),
            Quarantined(&[(3, Some("Close"), "expected a number, found \"x\"")], 1),
        ),
        (
            "UTF-16 without a byte-order mark",
            YahooClose,
            utf16le("Date,Close\n2024-07-01,100\n"),
            BadFile(&["binary data (NUL bytes)", "encoding = \"utf-16le\""]),
        ),
        (
            "unknown layout",
            YahooClose,
            b"when,what\n1,2\n".to_vec(),
            BadFile(&["unknown layout", "expected a header Date,Close"]),
        ),
        (
            "a yield file given as levels",
            CanonicalIndexLevels,
            b"date,yield_pct\n2024-07-01,4.2\n".to_vec(),
            BadFile(&["expected a header date,index_id,price_level,total_return_level"]),
        ),
        (
            "truncated mid-row",
            YahooClose,
            yahoo("2024-07-01,100\n2024-07-02"),
            Quarantined(&[(3, None, "expected 2 fields, found 1")], 1),
        ),
        (
            "bad date",
            YahooClose,
            yahoo("2024-07-01,100\n07/02/2024,101\n"),
            Quarantined(&[(3, Some("Date"), "expected a date like 2024-06-28, found \"07/02/2024\"")], 1),
        ),
        (
            "bad number",
            YahooClose,
            yahoo("2024-07-01,1O1\n"),
            Quarantined(&[(2, Some("Close"), "expected a number, found \"1O1\"")], 0),
        ),
        (
            "price zero",
            YahooClose,
            yahoo("2024-07-01,0\n2024-07-02,5\n"),
            Quarantined(&[(2, Some("Close"), "a level must be positive, found 0")], 1),
        ),
        (
            "duplicate date",
            YahooClose,
            yahoo("2024-07-01,1\n2024-07-01,2\n"),
            Quarantined(&[(3, Some("Date"), "duplicate of line 2 (2024-07-01 R2000)")], 1),
        ),
        (
            "missing level",
            CanonicalIndexLevels,
            levels("2024-07-01,R1000,,\n2024-07-01,R2000,1,\n"),
            Quarantined(&[(2, Some("price_level"), "both price_level and total_return_level are missing")], 1),
        ),
        (
            "missing index id",
            CanonicalIndexLevels,
            levels("2024-07-01,,1,1\n"),
            Quarantined(&[(2, Some("index_id"), "missing value")], 0),
        ),
        (
            "CRLF and BOM",
            YahooClose,
            b"\xef\xbb\xbfDate,Close\r\n2024-07-01,1\r\n2024-07-02,x\r\n".to_vec(),
            Quarantined(&[(3, Some("Close"), "expected a number, found \"x\"")], 1),
        ),
        (
            "yield out of range",
            CanonicalYields,
            b"date,yield_pct\n2024-07-01,42\n2024-07-02,4.2\n".to_vec(),
            Quarantined(&[(2, Some("yield_pct"), "a yield in percent must be within -5..25, found 42")], 1),
        ),
        (
            "yield in bp",
            YahooYield,
            b"Date,Close\n2024-07-01,425\n".to_vec(),
            Quarantined(&[(2, Some("Close"), "a yield in percent must be within -5..25, found 425")], 0),
        ),
        (
            "FRED legacy '.'",
            Fred,
            b"DATE,DGS10\n2020-12-25,.\n2020-12-28,0.94\n".to_vec(),
            Quarantined(&[(2, Some("DGS10"), "no observation that day")], 1),
        ),
        (
            "FRED empty cell",
            Fred,
            format!("{FRED_HEADER}2024-07-04,\n").into_bytes(),
            Quarantined(&[(2, Some("DGS10"), "no observation that day")], 0),
        ),
        (
            "FRED other layout",
            Fred,
            b"DATE,DGS10,DGS2\n2024-07-01,4,5\n".to_vec(),
            BadFile(&["unknown layout for format Fred"]),
        ),
        (
            "Treasury without the tenor",
            TreasuryParCurve,
            b"Date,\"1 Mo\",\"2 Mo\"\n09/01/2023,5.51,5.55\n".to_vec(),
            BadFile(&["unknown layout for format TreasuryParCurve"]),
        ),
        (
            "Treasury bad date",
            TreasuryParCurve,
            b"Date,\"10 Yr\"\n13/01/2023,4\n".to_vec(),
            Quarantined(&[(2, Some("Date"), "expected a date like 2024-06-28 or 06/28/2024")], 0),
        ),
        (
            "constituents negative close",
            CanonicalConstituents,
            constituents("2024-07-01,1,A,Tech,R2000,10,-1,0\n"),
            Quarantined(&[(2, Some("close"), "a close must be positive, found -1")], 0),
        ),
        (
            "constituents duplicate",
            CanonicalConstituents,
            constituents("2024-07-01,1,A,,,,1,0\n2024-07-01,1,A,,,,1,0\n"),
            Quarantined(&[(3, Some("security_id"), "duplicate of line 2")], 1),
        ),
        (
            "matrix duplicate ticker",
            WidePriceMatrix,
            b"Date,AAA,AAA\n2024-07-01,1,2\n".to_vec(),
            BadFile(&["(unique tickers)", "found Date,AAA,AAA"]),
        ),
        (
            "matrix bad cell",
            WidePriceMatrix,
            b"Date,AAA,BBB\n2024-07-01,1,?\n".to_vec(),
            Quarantined(&[(2, Some("BBB"), "expected a number, found \"?\"")], 1),
        ),
        (
            "holdings without preamble",
            IsharesHoldings,
            b"Ticker,Name\nAAA,x\n".to_vec(),
            BadFile(&["expected a preamble line Fund Holdings as of"]),
        ),
        (
            "FTSE without As of",
            FtseDailyValues,
            b"\"Daily Values\",,\n,\"Open\"\n".to_vec(),
            BadFile(&["expected a line \"As of August 27, 2025\""]),
        ),
    ]
}

/// What went wrong reading `path` as `source`, against `expect`; None when it went as expected.
fn check(what: &str, source: &Source, expect: Expect) -> Option<String> {
    let path = source.path.display().to_string();
    match (expect, exhibits_ingest::read_source(source)) {
        (BadFile(parts), Err(e)) => {
            let text = e.to_string().replace(&path, "t.csv");
            (!text.starts_with("t.csv: ") || parts.iter().any(|p| !text.contains(p)))
                .then(|| format!("{what}: error {text:?} lacks one of {parts:?}"))
        }
        (Quarantined(rows, accepted), Ok(read)) => {
            let r = &read.report;
            let rejected = read.rejected();
            let q: Vec<(u64, Option<&str>, &str)> =
                rejected.iter().map(|x| (x.line, x.column.as_deref(), x.reason.as_str())).collect();
            let matches = q.len() == rows.len()
                && q.iter().zip(rows.iter()).all(|(g, w)| g.0 == w.0 && g.1 == w.1 && g.2.starts_with(w.2));
            (!matches || r.accepted != accepted || r.accepted + r.rejected != r.rows_read)
                .then(|| format!("{what}: quarantined {q:?}, accepted {} of {}", r.accepted, r.rows_read))
        }
        (BadFile(_), Ok(read)) => {
            Some(format!("{what}: read {} rows, expected a bad-file error", read.report.rows_read))
        }
        (Quarantined(..), Err(e)) => Some(format!("{what}: {e}")),
    }
}

fn source(format: SourceFormat, path: std::path::PathBuf) -> Source {
    Source { index_id: Some("R2000".into()), series_id: Some("UST10Y".into()), ..Source::new("t", format, path) }
}

#[test]
fn every_broken_file_gets_a_clear_error_or_its_rows_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let cases = corpus();
    assert!(cases.len() >= 25, "{} files", cases.len());
    let mut failures = Vec::new();
    for (i, (what, format, bytes, expect)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("{i:02}.csv"));
        std::fs::write(&path, &bytes).unwrap();
        failures.extend(check(what, &source(format, path), expect));
    }
    for (i, (what, format, encoding, bytes, expect)) in declared().into_iter().enumerate() {
        let path = dir.path().join(format!("declared-{i:02}.csv"));
        std::fs::write(&path, &bytes).unwrap();
        let source = Source { encoding: Some(encoding.into()), ..source(format, path) };
        failures.extend(check(what, &source, expect));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
