//! The vendor formats: header recognition, per-row parsing and validation, canonical schemas.
//!
//! Each reader streams a file's records into batches of canonical rows and the rejected rows
//! (see [`Out`]), never holding the whole file. A file
//! whose header is not the layout its source names is a bad file (one error naming the file,
//! what was expected and what was found); a row that fails is rejected with its line and column.

use std::sync::{Arc, LazyLock};

use arrow::array::{Date32Array, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use exhibits_core::calendar::epoch_days;
use exhibits_core::pipeline::{ReturnBasis, Source, SourceFormat};

use crate::input::{Csv, RawCopy};
use crate::keys::Earlier;
use crate::stage::{BATCH_ROWS, Out};
use crate::{IngestError, Rejected};

/// `index_levels`: one row per index per date. At least one of the two levels is present.
pub fn index_levels_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            Field::new("index_id", DataType::Utf8, false),
            Field::new("price_level", DataType::Float64, true),
            Field::new("total_return_level", DataType::Float64, true),
            Field::new("source", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

/// `yields`: one row per series per date, in percent.
pub fn yields_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            Field::new("series_id", DataType::Utf8, false),
            Field::new("yield_pct", DataType::Float64, false),
            Field::new("source", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

/// `quarantine`: every rejected row with where it came from and why.
pub fn quarantine_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("source", DataType::Utf8, false),
            Field::new("file", DataType::Utf8, false),
            Field::new("line", DataType::UInt64, false),
            Field::new("column", DataType::Utf8, true),
            Field::new("raw", DataType::Utf8, false),
            Field::new("reason", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

/// The yield range accepted, in percent: anything outside is a vendor error, not a market.
const YIELD_RANGE: std::ops::RangeInclusive<f64> = -5.0..=25.0;

/// Where each field of a row sits, once the header is recognised.
struct Layout {
    date: usize,
    id: Option<usize>,
    price: Option<usize>,
    total: Option<usize>,
    value: Option<usize>,
}

pub(crate) fn header_names(headers: &csv::StringRecord) -> Vec<String> {
    headers.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect()
}

fn layout(source: &Source, names: &[String]) -> Option<Layout> {
    let pos = |n: &str| names.iter().position(|h| h == n);
    let exact = |want: &[&str]| names.len() == want.len() && names.iter().zip(want).all(|(a, b)| a == b);
    match source.format {
        SourceFormat::CanonicalIndexLevels => exact(&["date", "index_id", "price_level", "total_return_level"])
            .then_some(Layout { date: 0, id: Some(1), price: Some(2), total: Some(3), value: None }),
        SourceFormat::CanonicalYields => exact(&["date", "yield_pct"]).then_some(Layout {
            date: 0,
            id: None,
            price: None,
            total: None,
            value: Some(1),
        }),
        SourceFormat::YahooClose | SourceFormat::YahooYield => {
            let short = exact(&["Date", "Close"]);
            let full = exact(&["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"]);
            if !short && !full {
                return None;
            }
            // The adjusted close of the full layout is the total-return proxy; the short layout
            // carries one close whose basis the pipeline states.
            let column = match (source.format, source.basis.unwrap_or(ReturnBasis::TotalReturn), full) {
                (SourceFormat::YahooClose, ReturnBasis::TotalReturn, true) => pos("Adj Close"),
                _ => pos("Close"),
            };
            Some(match source.format {
                SourceFormat::YahooYield => Layout { date: 0, id: None, price: None, total: None, value: column },
                _ => match source.basis.unwrap_or(ReturnBasis::TotalReturn) {
                    ReturnBasis::TotalReturn => Layout { date: 0, id: None, price: None, total: column, value: None },
                    ReturnBasis::Price => Layout { date: 0, id: None, price: column, total: None, value: None },
                },
            })
        }
        SourceFormat::CanonicalConstituents => {
            exact(&crate::securities::CANONICAL_HEADER.split(',').collect::<Vec<_>>()).then_some(Layout {
                date: 0,
                id: None,
                price: None,
                total: None,
                value: None,
            })
        }
        SourceFormat::WidePriceMatrix => crate::securities::is_wide_header(names).then_some(Layout {
            date: 0,
            id: None,
            price: None,
            total: None,
            value: None,
        }),
        SourceFormat::Fred => (names.len() == 2 && matches!(names[0].as_str(), "DATE" | "observation_date"))
            .then_some(Layout { date: 0, id: None, price: None, total: None, value: Some(1) }),
        SourceFormat::TreasuryParCurve => {
            let tenor = source.column.as_deref().unwrap_or(TREASURY_TENOR);
            (names.first().is_some_and(|d| d == "Date")
                && names.iter().any(|n| n.ends_with(" Mo") || n.ends_with(" Yr")))
            .then(|| pos(tenor))
            .flatten()
            .map(|i| Layout { date: 0, id: None, price: None, total: None, value: Some(i) })
        }
        SourceFormat::IsharesHoldings | SourceFormat::FtseDailyValues | SourceFormat::Auto => None,
    }
}

/// The format of a file told from its first lines, where only one format fits; otherwise why not.
pub(crate) fn detect(text: &str) -> Result<SourceFormat, String> {
    use SourceFormat::*;
    let head: Vec<&str> = text.trim_start_matches('\u{feff}').lines().take(30).collect();
    let begins = |p: &str| head.iter().any(|l| l.trim_start_matches('"').starts_with(p));
    if begins("Fund Holdings as of") {
        return Ok(IsharesHoldings);
    }
    if begins("As of ") && (begins(",\"Open\"") || begins(",Open")) {
        return Ok(FtseDailyValues);
    }
    let first = head.first().copied().unwrap_or("");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(first.as_bytes());
    let names: Vec<String> = reader.records().next().and_then(Result::ok).map(|r| header_names(&r)).unwrap_or_default();
    let n: Vec<&str> = names.iter().map(String::as_str).collect();
    let tenor = |c: &&str| c.ends_with(" Mo") || c.ends_with(" Yr");
    let ticker = |c: &&str| {
        !c.is_empty()
            && c.len() <= 12
            && c.chars().all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit() || ".-/".contains(ch))
    };
    match n.as_slice() {
        ["date", "index_id", "price_level", "total_return_level"] => Ok(CanonicalIndexLevels),
        ["date", "yield_pct"] => Ok(CanonicalYields),
        _ if names.join(",") == crate::securities::CANONICAL_HEADER => Ok(CanonicalConstituents),
        ["DATE" | "observation_date", _] => Ok(Fred),
        ["Date", "Close"] | ["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"] => Err(format!(
            "the header {first:?} is a Yahoo-style download, which is yahoo_close (an index's level) or yahoo_yield \
             (a yield index such as ^TNX): set format to one of them"
        )),
        ["Date", rest @ ..] if rest.iter().any(tenor) => Ok(TreasuryParCurve),
        ["Date", rest @ ..] if !rest.is_empty() && rest.iter().all(ticker) => Ok(WidePriceMatrix),
        _ => Err(format!(
            "cannot tell the format from the first line {first:?}; set format to one of canonical_index_levels, \
             yahoo_close, ftse_daily_values, canonical_yields, yahoo_yield, fred, treasury_par_curve, \
             canonical_constituents, wide_price_matrix, ishares_holdings"
        )),
    }
}

/// The Treasury par curve's column read when the source names none.
const TREASURY_TENOR: &str = "10 Yr";

fn expected_header(format: SourceFormat) -> &'static str {
    match format {
        SourceFormat::CanonicalIndexLevels => "date,index_id,price_level,total_return_level",
        SourceFormat::CanonicalYields => "date,yield_pct",
        SourceFormat::YahooClose | SourceFormat::YahooYield => {
            "Date,Close or Date,Open,High,Low,Close,Adj Close,Volume"
        }
        SourceFormat::CanonicalConstituents => crate::securities::CANONICAL_HEADER,
        SourceFormat::WidePriceMatrix => "Date,<ticker>,<ticker>,... (unique tickers)",
        SourceFormat::IsharesHoldings => crate::securities::HOLDINGS_HEADER,
        SourceFormat::Fred => "DATE,<series> or observation_date,<series>",
        SourceFormat::FtseDailyValues => crate::ftse::HEADER,
        SourceFormat::TreasuryParCurve => "Date,\"1 Mo\",…,\"10 Yr\",… with the source's column (default 10 Yr)",
        SourceFormat::Auto => "of one of the formats",
    }
}

/// A rejected field: the column and why.
pub(crate) type FieldError = (String, String);

fn parse_date(names: &[String], rec: &csv::StringRecord, i: usize) -> Result<NaiveDate, FieldError> {
    let raw = rec.get(i).unwrap_or("").trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| (names[i].clone(), format!("expected a date like 2024-06-28, found {raw:?}")))
}

/// The Treasury's dates: ISO, or `MM/DD/YYYY` as the Treasury serves them.
fn parse_us_or_iso_date(names: &[String], rec: &csv::StringRecord, i: usize) -> Result<NaiveDate, FieldError> {
    let raw = rec.get(i).unwrap_or("").trim();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%m/%d/%Y"))
        .map_err(|_| (names[i].clone(), format!("expected a date like 2024-06-28 or 06/28/2024, found {raw:?}")))
}

/// The row's date in column `i`, as the format writes it, and not after the source's `until`
/// (the run's as-of date): a row from the future is a vendor error, quarantined.
pub(crate) fn row_date(
    source: &Source,
    names: &[String],
    rec: &csv::StringRecord,
    i: usize,
) -> Result<NaiveDate, FieldError> {
    let date = match source.format {
        SourceFormat::TreasuryParCurve => parse_us_or_iso_date(names, rec, i)?,
        _ => parse_date(names, rec, i)?,
    };
    match after_until(source, date) {
        Some(reason) => Err((names[i].clone(), reason)),
        None => Ok(date),
    }
}

/// Why a row dated `date` is not accepted under the source's `until`, if it is not.
pub(crate) fn after_until(source: &Source, date: NaiveDate) -> Option<String> {
    source.until.filter(|u| date > *u).map(|u| format!("dated {date}, after the as-of date {u}"))
}

pub(crate) fn parse_number(
    names: &[String],
    rec: &csv::StringRecord,
    i: usize,
    required: bool,
) -> Result<Option<f64>, FieldError> {
    let raw = rec.get(i).unwrap_or("").trim();
    if raw.is_empty() {
        return if required { Err((names[i].clone(), "missing value".into())) } else { Ok(None) };
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err((names[i].clone(), format!("expected a number, found {raw:?}"))),
    }
}

fn positive_level(names: &[String], i: usize, v: Option<f64>) -> Result<Option<f64>, FieldError> {
    match v {
        Some(x) if x <= 0.0 => Err((names[i].clone(), format!("a level must be positive, found {x}"))),
        other => Ok(other),
    }
}

/// One accepted row, before it goes into Arrow arrays.
struct Row {
    date: NaiveDate,
    id: String,
    price: Option<f64>,
    total: Option<f64>,
    value: f64,
}

fn parse_row(source: &Source, lay: &Layout, names: &[String], rec: &csv::StringRecord) -> Result<Row, FieldError> {
    if rec.len() != names.len() {
        return Err((String::new(), format!("expected {} fields, found {}", names.len(), rec.len())));
    }
    let date = row_date(source, names, rec, lay.date)?;
    let id = match lay.id {
        Some(i) => {
            let v = rec.get(i).unwrap_or("").trim();
            if v.is_empty() {
                return Err((names[i].clone(), "missing value".into()));
            }
            v.to_string()
        }
        None => source.index_id.clone().or_else(|| source.series_id.clone()).expect("validated by the pipeline loader"),
    };
    let level = |col: Option<usize>, required: bool| -> Result<Option<f64>, FieldError> {
        let Some(i) = col else { return Ok(None) };
        positive_level(names, i, parse_number(names, rec, i, required)?)
    };
    // A layout with both levels needs at least one of them per row; with one, that one.
    let price = level(lay.price, lay.total.is_none())?;
    let total = level(lay.total, lay.price.is_none())?;
    if let (Some(i), Some(_), None, None) = (lay.price, lay.total, price, total) {
        return Err((names[i].clone(), "both price_level and total_return_level are missing".into()));
    }
    let value = match lay.value {
        // FRED writes `.` (or leaves the cell empty) on days without an observation, and the
        // Treasury leaves a tenor empty before it existed: a row without a yield, not a typo.
        Some(i)
            if matches!(source.format, SourceFormat::Fred | SourceFormat::TreasuryParCurve)
                && matches!(rec.get(i).map(str::trim), Some("." | "")) =>
        {
            return Err((names[i].clone(), "no observation that day (\".\" or an empty cell)".into()));
        }
        Some(i) => {
            let v = parse_number(names, rec, i, true)?.expect("required");
            if !YIELD_RANGE.contains(&v) {
                return Err((names[i].clone(), format!("a yield in percent must be within -5..25, found {v}")));
            }
            v
        }
        None => f64::NAN,
    };
    Ok(Row { date, id, price, total, value })
}

pub(crate) fn raw_text(rec: &csv::StringRecord) -> String {
    rec.iter().collect::<Vec<_>>().join(",")
}

/// The byte offset of the first of `text`'s first `within` lines that starts with one of
/// `starts`, and how many lines come before it: where a vendor file's table begins after its
/// preamble (iShares holdings, FTSE Daily Values).
pub(crate) fn table_start(text: &str, within: usize, starts: &[&str]) -> Option<(usize, u64)> {
    let at = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .take(within)
        .find(|i| starts.iter().any(|s| text[*i..].starts_with(s)))?;
    Some((at, text[..at].lines().count() as u64))
}

/// Reads a file of `source`'s format from its staged copy into `out`.
pub(crate) fn parse(
    source: &Source,
    raw: &RawCopy,
    out: &mut Out<'_>,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(), IngestError> {
    if raw.is_blank()? {
        return Err(bad(format!("the file is empty; expected a header {}", expected_header(source.format))));
    }
    match source.format {
        SourceFormat::FtseDailyValues => return crate::ftse::daily_values(source, raw.text()?, out, bad),
        SourceFormat::IsharesHoldings => return crate::securities::holdings(source, raw.text()?, out, bad),
        _ => {}
    }
    let mut csv = Csv::new(raw.text()?, 0);
    let names = csv.header(bad)?;
    let lay = layout(source, &names).ok_or_else(|| {
        bad(format!(
            "unknown layout for format {:?}: expected a header {}, found {}",
            source.format,
            expected_header(source.format),
            names.join(",")
        ))
    })?;
    match source.format {
        SourceFormat::CanonicalConstituents => return crate::securities::canonical(source, csv, names, out, bad),
        SourceFormat::WidePriceMatrix => return crate::securities::wide(source, csv, names, out, bad),
        _ => {}
    }

    let mut rows: Vec<Row> = Vec::new();
    csv.records(bad, |line, record| {
        out.row_read();
        match parse_row(source, &lay, &names, record) {
            Ok(row) => {
                let day = epoch_days(row.date);
                if let Some(earlier) = out.earlier(day, &row.id, line)? {
                    out.reject(Rejected {
                        line,
                        column: Some(names[lay.date].clone()),
                        raw: raw_text(record),
                        reason: duplicate(&earlier, &format!("{} {}", row.date, row.id)),
                    })?;
                    return Ok(true);
                }
                rows.push(row);
                if rows.len() >= BATCH_ROWS {
                    out.write(levels_batch(source, std::mem::take(&mut rows)))?;
                }
            }
            Err((column, reason)) => out.reject(Rejected {
                line,
                column: (!column.is_empty()).then_some(column),
                raw: raw_text(record),
                reason,
            })?,
        }
        Ok(!out.stop())
    })?;
    if out.rows_read() == 0 {
        return Err(bad(format!("the file has a header ({}) but no rows", names.join(","))));
    }
    out.write(levels_batch(source, rows))
}

/// Why a row is a duplicate: where its (date, id), `what`, was delivered before.
pub(crate) fn duplicate(earlier: &Earlier, what: &str) -> String {
    match earlier {
        Earlier::Line(first) => format!("duplicate of line {first} ({what})"),
        Earlier::File(file) => format!("duplicate of a row of {file} ({what})"),
    }
}

/// Accepted rows of an index-level or yield file, in its table's schema.
fn levels_batch(source: &Source, rows: Vec<Row>) -> RecordBatch {
    let dates = Arc::new(Date32Array::from_iter_values(rows.iter().map(|r| epoch_days(r.date))));
    let ids = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.id.as_str())));
    let source_col = Arc::new(StringArray::from(vec![source.name.as_str(); rows.len()]));
    match source.format.table() {
        "index_levels" => RecordBatch::try_new(
            index_levels_schema(),
            vec![
                dates,
                ids,
                Arc::new(rows.iter().map(|r| r.price).collect::<Float64Array>()),
                Arc::new(rows.iter().map(|r| r.total).collect::<Float64Array>()),
                source_col,
            ],
        ),
        _ => RecordBatch::try_new(
            yields_schema(),
            vec![dates, ids, Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.value))), source_col],
        ),
    }
    .expect("columns match the canonical schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn source(format: SourceFormat) -> Source {
        Source { index_id: Some("R2000".into()), series_id: Some("UST10Y".into()), ..Source::new("t", format, "t.csv") }
    }

    #[test]
    fn yahoo_short_layout_is_a_total_return_level() {
        let p = parse(&source(SourceFormat::YahooClose), b"Date,Close\n2024-07-10,100.5\n2024-07-11,103.0\n").unwrap();
        assert_eq!(p.batch.num_rows(), 2);
        assert_eq!(p.rows_read, 2);
        let tr = p.batch.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(tr.value(1), 103.0);
        assert!(p.batch.column(2).is_null(0));
    }

    #[test]
    fn yahoo_full_layout_uses_the_adjusted_close() {
        let csv = b"Date,Open,High,Low,Close,Adj Close,Volume\n2024-07-10,1,2,1,200.0,198.5,10\n";
        let p = parse(&source(SourceFormat::YahooClose), csv).unwrap();
        let tr = p.batch.column(3).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!(tr.value(0), 198.5);
    }

    #[test]
    fn bad_rows_are_rejected_with_line_column_and_reason() {
        let csv = b"Date,Close\n2024-07-10,100\n2024-07-11,null\n2024-13-01,5\n2024-07-12,-3\n2024-07-10,101\n2024-07-15,1,2\n";
        let p = parse(&source(SourceFormat::YahooClose), csv).unwrap();
        assert_eq!(p.rows_read, 6);
        assert_eq!(p.batch.num_rows(), 1);
        let got: Vec<(u64, Option<&str>, &str)> =
            p.rejected.iter().map(|r| (r.line, r.column.as_deref(), r.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                (3, Some("Close"), "expected a number, found \"null\""),
                (4, Some("Date"), "expected a date like 2024-06-28, found \"2024-13-01\""),
                (5, Some("Close"), "a level must be positive, found -3"),
                (6, Some("Date"), "duplicate of line 2 (2024-07-10 R2000)"),
                (7, None, "expected 2 fields, found 3"),
            ]
        );
        assert_eq!(p.rejected[0].raw, "2024-07-11,null");
    }

    #[test]
    fn a_file_out_of_date_order_is_read_again_keeping_every_key() {
        let csv = b"Date,Close\n2024-07-10,1\n2024-07-11,2\n2024-07-09,3\n2024-07-10,4\n2024-07-11,5\n";
        let p = parse(&source(SourceFormat::YahooClose), csv).unwrap();
        let got: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(got, [(5, "duplicate of line 2 (2024-07-10 R2000)"), (6, "duplicate of line 3 (2024-07-11 R2000)")]);
        assert_eq!((p.rows_read, p.batch.num_rows()), (5, 3));
    }

    #[test]
    fn yields_outside_the_plausible_range_are_rejected() {
        let p =
            parse(&source(SourceFormat::CanonicalYields), b"date,yield_pct\n2024-07-10,4.2\n2024-07-11,42\n").unwrap();
        assert_eq!(p.batch.num_rows(), 1);
        assert_eq!(p.rejected[0].reason, "a yield in percent must be within -5..25, found 42");
    }

    #[test]
    fn canonical_levels_need_one_level() {
        let csv = b"date,index_id,price_level,total_return_level\n2024-07-10,R1000,,\n2024-07-10,R2000,,5\n";
        let p = parse(&source(SourceFormat::CanonicalIndexLevels), csv).unwrap();
        assert_eq!(p.batch.num_rows(), 1);
        assert_eq!(p.rejected[0].reason, "both price_level and total_return_level are missing");
    }

    #[test]
    fn bad_files_get_one_error_naming_what_was_expected() {
        let err = |bytes: &[u8]| parse(&source(SourceFormat::YahooClose), bytes).err().unwrap().to_string();
        assert_eq!(
            err(b""),
            "t.csv: the file is empty; expected a header Date,Close or Date,Open,High,Low,Close,Adj Close,Volume"
        );
        assert_eq!(err(b"Date,Close\n"), "t.csv: the file has a header (Date,Close) but no rows");
        assert_eq!(
            err(b"when,what\n1,2\n"),
            "t.csv: unknown layout for format YahooClose: expected a header Date,Close or Date,Open,High,Low,Close,Adj Close,Volume, found when,what"
        );
        assert_eq!(
            err(b"Date,Close\n\x00\x01"),
            "t.csv: the file holds binary data (NUL bytes), not CSV text (UTF-16 text needs a byte-order mark or encoding = \"utf-16le\")"
        );
    }

    #[test]
    fn fred_and_treasury_layouts_and_their_missing_days() {
        let fred = parse(&source(SourceFormat::Fred), b"DATE,DGS10\n2020-12-24,0.94\n2020-12-25,.\n").unwrap();
        assert_eq!((fred.rows_read, fred.batch.num_rows()), (2, 1));
        assert_eq!(fred.rejected[0].reason, "no observation that day (\".\" or an empty cell)");
        let current =
            parse(&source(SourceFormat::Fred), b"observation_date,DGS10\n2024-07-04,\n2024-07-05,4.28\n").unwrap();
        assert_eq!((current.rows_read, current.batch.num_rows(), current.rejected[0].line), (2, 1, 2));
        let csv =
            b"Date,\"1 Mo\",\"2 Mo\",\"10 Yr\"\n09/01/2023,5.51,5.55,4.18\n08/31/2023,5.52,5.55,\n2023-08-30,1,1,4.12";
        let tsy = parse(&source(SourceFormat::TreasuryParCurve), csv).unwrap();
        let y = tsy.batch.column(2).as_any().downcast_ref::<Float64Array>().unwrap();
        assert_eq!((tsy.batch.num_rows(), y.value(0), y.value(1)), (2, 4.18, 4.12));
        assert_eq!(tsy.max_date, NaiveDate::from_ymd_opt(2023, 9, 1));
        assert_eq!(tsy.rejected[0].line, 3);
        let mut two_year = source(SourceFormat::TreasuryParCurve);
        two_year.column = Some("2 Mo".into());
        let p = parse(&two_year, csv).unwrap();
        assert_eq!(p.batch.column(2).as_any().downcast_ref::<Float64Array>().unwrap().value(0), 5.55);
        two_year.column = Some("40 Yr".into());
        let err = parse(&two_year, csv).err().unwrap().to_string();
        assert!(err.contains("unknown layout for format TreasuryParCurve"), "{err}");
    }

    #[test]
    fn bom_and_crlf_are_read_and_lines_count_from_the_file() {
        let csv = b"\xef\xbb\xbfDate,Close\r\n2024-07-10,100\r\n2024-07-11,x\r\n";
        let p = parse(&source(SourceFormat::YahooClose), csv).unwrap();
        assert_eq!(p.batch.num_rows(), 1);
        // The csv crate alone would say line 2 here.
        assert_eq!(p.rejected[0].line, 3);
    }

    #[test]
    fn formats_are_told_from_the_header_where_only_one_fits() {
        use SourceFormat::*;
        let cases: [(&str, Result<SourceFormat, &str>); 10] = [
            ("date,index_id,price_level,total_return_level\n", Ok(CanonicalIndexLevels)),
            ("\u{feff}date,yield_pct\r\n2024-01-02,4\r\n", Ok(CanonicalYields)),
            ("date,security_id,ticker,sector,index_code,shares,close,dividend\n", Ok(CanonicalConstituents)),
            ("observation_date,DGS10\n", Ok(Fred)),
            ("Date,\"1 Mo\",\"2 Mo\",\"10 Yr\"\n", Ok(TreasuryParCurve)),
            ("Date,AAPL,BRK.B,BF-B\n", Ok(WidePriceMatrix)),
            ("\"Fund Holdings as of\",\"May 13, 2025\"\n", Ok(IsharesHoldings)),
            ("\"Daily Values\"\n\"As of August 27, 2025\"\n,\"Open\",\"High\"\n", Ok(FtseDailyValues)),
            ("Date,Close\n", Err("is a Yahoo-style download, which is yahoo_close (an index's level) or yahoo_yield")),
            ("Date,Price,Volume\n", Err("cannot tell the format from the first line \"Date,Price,Volume\"")),
        ];
        for (text, want) in cases {
            match (detect(text), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{text:?}"),
                (Err(got), Err(want)) => assert!(got.contains(want), "{text:?}: {got}"),
                (got, want) => panic!("{text:?}: {got:?}, expected {want:?}"),
            }
        }
    }
}
