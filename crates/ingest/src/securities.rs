//! Security-level vendor files: constituent prices (the canonical long CSV and the wide price
//! matrix) into lake table `constituents`, and iShares holdings snapshots into `holdings`.
//!
//! Units of the ledger: one row of the canonical file, one non-blank price cell of the matrix
//! (a date × ticker value), one holding line of the iShares file (preamble and legal footer are
//! not rows).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use arrow::array::{ArrayBuilder, ArrayRef, Date32Builder, Float64Builder, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::NaiveDate;
use exhibits_core::calendar::epoch_days;
use exhibits_core::pipeline::Source;

use crate::formats::{FieldError, duplicate, parse_number, raw_text, row_date, table_start};
use crate::input::{Csv, read_lines};
use crate::stage::{BATCH_ROWS, Out};
use crate::{IngestError, Rejected};

/// `constituents`: one row per security per trading day with a price.
///
/// `security_id` is the vendor's id (the canonical file's number, or the matrix's ticker);
/// `sector`, `index_code` and `shares` are null when the file does not carry them (the matrix:
/// `index_code` is the source's `index_id`, sectors come from a holdings snapshot). `close` is a
/// price (canonical file: dividends in `dividend`, paid on that date) or an adjusted close (the
/// matrix: `dividend` 0, the close is already a total-return level).
pub fn lake_constituents_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            Field::new("security_id", DataType::Utf8, false),
            Field::new("ticker", DataType::Utf8, true),
            Field::new("sector", DataType::Utf8, true),
            Field::new("index_code", DataType::Utf8, true),
            Field::new("shares", DataType::Float64, true),
            Field::new("close", DataType::Float64, false),
            Field::new("dividend", DataType::Float64, false),
            Field::new("source", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

/// `holdings`: one row per holding line of a fund's snapshot, every asset class (filter on
/// `asset_class = 'Equity'` for index members). `ticker` is null for unlisted lines (`-`).
pub fn holdings_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("as_of", DataType::Date32, false),
            Field::new("index_code", DataType::Utf8, false),
            Field::new("ticker", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("sector", DataType::Utf8, true),
            Field::new("asset_class", DataType::Utf8, true),
            Field::new("market_value", DataType::Float64, true),
            Field::new("weight_pct", DataType::Float64, true),
            Field::new("quantity", DataType::Float64, true),
            Field::new("price", DataType::Float64, true),
            Field::new("source", DataType::Utf8, false),
        ]))
    });
    S.clone()
}

pub(crate) const CANONICAL_HEADER: &str = "date,security_id,ticker,sector,index_code,shares,close,dividend";
pub(crate) const HOLDINGS_HEADER: &str = "Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price,Location,Exchange,Currency,FX Rate,Market Currency,Accrual Date";

/// Builds the `constituents` batches row by row.
#[derive(Default)]
struct ConstituentRows {
    date: Date32Builder,
    security_id: StringBuilder,
    ticker: StringBuilder,
    sector: StringBuilder,
    index_code: StringBuilder,
    shares: Float64Builder,
    close: Float64Builder,
    dividend: Float64Builder,
}

impl ConstituentRows {
    /// Adds a row; every [`BATCH_ROWS`] rows the batch goes to `out`.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        out: &mut Out<'_>,
        source: &str,
        date: i32,
        security_id: &str,
        ticker: Option<&str>,
        sector: Option<&str>,
        index_code: Option<&str>,
        shares: Option<f64>,
        close: f64,
        dividend: f64,
    ) -> Result<(), IngestError> {
        self.date.append_value(date);
        self.security_id.append_value(security_id);
        self.ticker.append_option(ticker);
        self.sector.append_option(sector);
        self.index_code.append_option(index_code);
        self.shares.append_option(shares);
        self.close.append_value(close);
        self.dividend.append_value(dividend);
        if self.date.len() >= BATCH_ROWS { self.flush(out, source) } else { Ok(()) }
    }

    fn flush(&mut self, out: &mut Out<'_>, source: &str) -> Result<(), IngestError> {
        let n = self.date.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.date.finish()),
            Arc::new(self.security_id.finish()),
            Arc::new(self.ticker.finish()),
            Arc::new(self.sector.finish()),
            Arc::new(self.index_code.finish()),
            Arc::new(self.shares.finish()),
            Arc::new(self.close.finish()),
            Arc::new(self.dividend.finish()),
            Arc::new(StringArray::from(vec![source; n])),
        ];
        out.write(RecordBatch::try_new(lake_constituents_schema(), columns).expect("columns match the schema"))
    }
}

fn text(rec: &csv::StringRecord, i: usize) -> Option<&str> {
    rec.get(i).map(str::trim).filter(|v| !v.is_empty())
}

fn check_range(
    names: &[String],
    i: usize,
    v: Option<f64>,
    ok: fn(f64) -> bool,
    what: &str,
) -> Result<Option<f64>, FieldError> {
    match v {
        Some(x) if !ok(x) => Err((names[i].clone(), format!("{what}, found {x}"))),
        other => Ok(other),
    }
}

fn reject(out: &mut Out<'_>, line: u64, column: String, raw: String, reason: String) -> Result<(), IngestError> {
    out.reject(Rejected { line, column: (!column.is_empty()).then_some(column), raw, reason })
}

/// The canonical long constituents CSV.
pub(crate) fn canonical<R: std::io::Read>(
    source: &Source,
    mut csv: Csv<R>,
    names: Vec<String>,
    out: &mut Out<'_>,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(), IngestError> {
    let mut rows = ConstituentRows::default();
    let parse = |rec: &csv::StringRecord| -> Result<(NaiveDate, Option<f64>, f64, f64), FieldError> {
        if rec.len() != names.len() {
            return Err((String::new(), format!("expected {} fields, found {}", names.len(), rec.len())));
        }
        let date = row_date(source, &names, rec, 0)?;
        text(rec, 1).ok_or_else(|| (names[1].clone(), "missing value".to_string()))?;
        let shares =
            check_range(&names, 5, parse_number(&names, rec, 5, false)?, |x| x >= 0.0, "shares cannot be negative")?;
        let close =
            check_range(&names, 6, parse_number(&names, rec, 6, true)?, |x| x > 0.0, "a close must be positive")?
                .expect("required");
        let dividend = check_range(
            &names,
            7,
            parse_number(&names, rec, 7, false)?,
            |x| x >= 0.0,
            "a dividend cannot be negative",
        )?
        .unwrap_or(0.0);
        Ok((date, shares, close, dividend))
    };
    csv.records(bad, |line, rec| {
        out.row_read();
        match parse(rec) {
            Ok((date, shares, close, dividend)) => {
                let id = text(rec, 1).expect("checked");
                let day = epoch_days(date);
                if let Some(earlier) = out.earlier(day, id, line)? {
                    let reason = duplicate(&earlier, &format!("{date} {id}"));
                    reject(out, line, names[1].clone(), raw_text(rec), reason)?;
                } else {
                    let (ticker, sector, index_code) = (text(rec, 2), text(rec, 3), text(rec, 4));
                    rows.push(out, &source.name, day, id, ticker, sector, index_code, shares, close, dividend)?;
                }
            }
            Err((column, reason)) => reject(out, line, column, raw_text(rec), reason)?,
        }
        Ok(!out.stop())
    })?;
    if out.rows_read() == 0 {
        return Err(bad(format!("the file has a header ({}) but no rows", names.join(","))));
    }
    rows.flush(out, &source.name)
}

/// The header of a wide price matrix: `Date` then unique tickers.
pub(crate) fn is_wide_header(names: &[String]) -> bool {
    let mut seen = HashSet::new();
    names.len() >= 2 && names[0] == "Date" && names[1..].iter().all(|t| !t.is_empty() && seen.insert(t.as_str()))
}

/// The wide price matrix: every non-blank cell is a close of that column's ticker.
pub(crate) fn wide<R: std::io::Read>(
    source: &Source,
    mut csv: Csv<R>,
    names: Vec<String>,
    out: &mut Out<'_>,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(), IngestError> {
    let index_code = source.index_id.as_deref();
    let mut rows = ConstituentRows::default();
    let mut lines = 0;
    // One entry per date line (not per value): bounded by the file's dates.
    let mut first_line_of: HashMap<NaiveDate, u64> = HashMap::new();
    csv.records(bad, |line, rec| {
        lines += 1;
        let cells: Vec<usize> = (1..rec.len()).filter(|i| text(rec, *i).is_some()).collect();
        // A line that cannot be placed rejects each of its values (or itself, when it has none).
        let placed: Result<NaiveDate, FieldError> = if rec.len() != names.len() {
            Err((String::new(), format!("expected {} fields, found {}", names.len(), rec.len())))
        } else {
            row_date(source, &names, rec, 0).and_then(|date| match first_line_of.get(&date) {
                Some(first) => Err((names[0].clone(), format!("duplicate of line {first} ({date})"))),
                None => {
                    first_line_of.insert(date, line);
                    Ok(date)
                }
            })
        };
        let date = match placed {
            Ok(date) => date,
            Err((column, reason)) => {
                for _ in 0..cells.len().max(1) {
                    out.row_read();
                    reject(out, line, column.clone(), raw_text(rec), reason.clone())?;
                }
                return Ok(true);
            }
        };
        let day = epoch_days(date);
        for i in cells {
            out.row_read();
            let value = parse_number(&names, rec, i, true)
                .and_then(|v| check_range(&names, i, v, |x| x > 0.0, "a close must be positive"));
            let raw = || format!("{},{}", rec.get(0).unwrap_or(""), rec.get(i).unwrap_or(""));
            match value {
                Ok(Some(close)) => match out.earlier(day, &names[i], line)? {
                    Some(earlier) => {
                        let reason = duplicate(&earlier, &format!("{date} {}", names[i]));
                        reject(out, line, names[0].clone(), raw(), reason)?;
                    }
                    None => {
                        let ticker = Some(names[i].as_str());
                        rows.push(out, &source.name, day, &names[i], ticker, None, index_code, None, close, 0.0)?
                    }
                },
                Ok(None) => unreachable!("required"),
                Err((column, reason)) => reject(out, line, column, raw(), reason)?,
            }
        }
        Ok(!out.stop())
    })?;
    if lines == 0 {
        return Err(bad(format!("the file has a header ({} tickers) but no rows", names.len() - 1)));
    }
    rows.flush(out, &source.name)
}

/// An iShares holdings number: `"1,532,594,919.50"`, `-` for none.
fn holding_number(names: &[String], rec: &csv::StringRecord, i: usize) -> Result<Option<f64>, FieldError> {
    let raw = rec.get(i).unwrap_or("").trim();
    if raw.is_empty() || raw == "-" {
        return Ok(None);
    }
    match raw.replace(',', "").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err((names[i].clone(), format!("expected a number like \"1,234.50\", found {raw:?}"))),
    }
}

/// An iShares "Detailed Holdings and Analytics" CSV: a preamble with `Fund Holdings as of`,
/// the holdings, then a legal footer after a blank line.
pub(crate) fn holdings(
    source: &Source,
    mut input: Box<dyn std::io::BufRead>,
    out: &mut Out<'_>,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(), IngestError> {
    let head = read_lines(&mut input, 30, bad)?;
    let as_of_line = head.lines().take(20).find(|l| l.starts_with("Fund Holdings as of,"));
    let as_of = as_of_line
        .and_then(|l| {
            let v = l.trim_start_matches("Fund Holdings as of,").trim().trim_matches('"');
            NaiveDate::parse_from_str(v, "%b %d, %Y").ok()
        })
        .ok_or_else(|| {
            bad(format!(
                "not an iShares holdings file: expected a preamble line Fund Holdings as of,\"May 13, 2025\" in the first 20 lines, found {}",
                as_of_line.unwrap_or("none")
            ))
        })?;
    let (header_at, header_line) = table_start(&head, 30, &["Ticker,"]).ok_or_else(|| {
        bad(format!("not an iShares holdings file: expected a header {HOLDINGS_HEADER} in the first 30 lines"))
    })?;
    let mut csv =
        Csv::new(std::io::Read::chain(std::io::Cursor::new(head[header_at..].to_string()), input), header_line);
    let names = csv.header(bad)?;
    if names.join(",") != HOLDINGS_HEADER {
        return Err(bad(format!(
            "unknown holdings layout: expected a header {HOLDINGS_HEADER}, found {}",
            names.join(",")
        )));
    }
    let col = |n: &str| names.iter().position(|h| h == n).expect("header checked");
    let (ticker, name, sector, class) = (col("Ticker"), col("Name"), col("Sector"), col("Asset Class"));
    let (mv, weight, qty, price) = (col("Market Value"), col("Weight (%)"), col("Quantity"), col("Price"));

    let index_code = source.index_id.as_deref().expect("validated by the pipeline loader");
    let mut rows = HoldingRows::default();
    // A snapshot's lines are told apart by their whole text (a fund's snapshot, not a history).
    let mut seen: HashMap<String, u64> = HashMap::new();
    csv.records(bad, |line, rec| {
        // The legal footer starts after a blank (or non-breaking-space) line.
        if rec.len() == 1 && rec.get(0).is_none_or(|v| v.trim_matches(|c: char| c.is_whitespace()).is_empty()) {
            return Ok(false);
        }
        out.row_read();
        let raw = raw_text(rec);
        let parsed = (|| -> Result<_, FieldError> {
            if rec.len() != names.len() {
                return Err((String::new(), format!("expected {} fields, found {}", names.len(), rec.len())));
            }
            if text(rec, name).is_none() && text(rec, ticker).is_none() {
                return Err((names[name].clone(), "missing value (neither a ticker nor a name)".into()));
            }
            let price_v = check_range(
                &names,
                price,
                holding_number(&names, rec, price)?,
                |x| x >= 0.0,
                "a price cannot be negative",
            )?;
            Ok((
                holding_number(&names, rec, mv)?,
                holding_number(&names, rec, weight)?,
                holding_number(&names, rec, qty)?,
                price_v,
            ))
        })();
        match parsed {
            Ok(_) if seen.contains_key(&raw) => {
                let reason = format!("duplicate of line {}", seen[&raw]);
                reject(out, line, String::new(), raw, reason)?;
            }
            Ok((m, w, q, p)) => {
                rows.ticker.append_option(text(rec, ticker).filter(|t| *t != "-"));
                rows.name.append_option(text(rec, name));
                rows.sector.append_option(text(rec, sector));
                rows.class.append_option(text(rec, class));
                rows.market_value.append_option(m);
                rows.weight.append_option(w);
                rows.quantity.append_option(q);
                rows.price.append_option(p);
                seen.insert(raw, line);
                if rows.ticker.len() >= BATCH_ROWS {
                    rows.flush(out, &source.name, as_of, index_code)?;
                }
            }
            Err((column, reason)) => reject(out, line, column, raw, reason)?,
        }
        Ok(true)
    })?;
    if out.rows_read() == 0 {
        return Err(bad("the holdings file has a header but no holdings".into()));
    }
    rows.flush(out, &source.name, as_of, index_code)
}

/// Builds the `holdings` batches of one snapshot.
#[derive(Default)]
struct HoldingRows {
    ticker: StringBuilder,
    name: StringBuilder,
    sector: StringBuilder,
    class: StringBuilder,
    market_value: Float64Builder,
    weight: Float64Builder,
    quantity: Float64Builder,
    price: Float64Builder,
}

impl HoldingRows {
    fn flush(
        &mut self,
        out: &mut Out<'_>,
        source: &str,
        as_of: NaiveDate,
        index_code: &str,
    ) -> Result<(), IngestError> {
        let n = self.ticker.len();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(arrow::array::Date32Array::from(vec![epoch_days(as_of); n])),
            Arc::new(StringArray::from(vec![index_code; n])),
            Arc::new(self.ticker.finish()),
            Arc::new(self.name.finish()),
            Arc::new(self.sector.finish()),
            Arc::new(self.class.finish()),
            Arc::new(self.market_value.finish()),
            Arc::new(self.weight.finish()),
            Arc::new(self.quantity.finish()),
            Arc::new(self.price.finish()),
            Arc::new(StringArray::from(vec![source; n])),
        ];
        out.write(RecordBatch::try_new(holdings_schema(), columns).expect("columns match the schema"))
    }
}

#[cfg(test)]
mod tests {

    use arrow::array::{Array, AsArray};
    use exhibits_core::pipeline::SourceFormat;

    use super::*;
    use crate::{Parsed, parse};

    fn source(format: SourceFormat) -> Source {
        Source { index_id: Some("R2000".into()), ..Source::new("t", format, "t.csv") }
    }

    /// (line, column, reason) of every rejected row.
    fn rejected(p: &Parsed) -> Vec<(u64, Option<&str>, &str)> {
        p.rejected.iter().map(|r| (r.line, r.column.as_deref(), r.reason.as_str())).collect()
    }

    fn error(format: SourceFormat, bytes: &[u8]) -> String {
        parse(&source(format), bytes).err().expect("a bad file").to_string()
    }

    #[test]
    fn canonical_constituents_reject_bad_rows_with_line_and_column() {
        let csv = "\u{feff}date,security_id,ticker,sector,index_code,shares,close,dividend\r\n\
                   2024-07-01,1,AAA,Tech,R2000,100,10.5,0\r\n\
                   2024-07-01,2,BBB,,,,-1,0\r\n\
                   2024-07-01,,CCC,Tech,R2000,100,1,0\r\n\
                   2024-07-01,1,AAA,Tech,R2000,100,10.6,0\r\n\
                   2024-07-02,1,AAA,Tech,R2000,-5,10.6,\r\n\
                   2024-07-02,3,DDD,Tech,R2000,100,1,-0.1\r\n\
                   2024/07/02,4,EEE,Tech,R2000,100,1,0\r\n\
                   2024-07-02,5,FFF,Tech,R2000,100,1\r\n\
                   2024-07-02,6,,,,,2.5,\r\n";
        let p = parse(&source(SourceFormat::CanonicalConstituents), csv.as_bytes()).unwrap();
        assert_eq!(
            rejected(&p),
            vec![
                (3, Some("close"), "a close must be positive, found -1"),
                (4, Some("security_id"), "missing value"),
                (5, Some("security_id"), "duplicate of line 2 (2024-07-01 1)"),
                (6, Some("shares"), "shares cannot be negative, found -5"),
                (7, Some("dividend"), "a dividend cannot be negative, found -0.1"),
                (8, Some("date"), "expected a date like 2024-06-28, found \"2024/07/02\""),
                (9, None, "expected 8 fields, found 7"),
            ]
        );
        assert_eq!((p.rows_read, p.batch.num_rows()), (9, 2));
        // Empty optional fields are nulls; an empty dividend is none paid.
        let last = p.batch.num_rows() - 1;
        assert!(p.batch.column_by_name("sector").unwrap().is_null(last));
        assert!(p.batch.column_by_name("shares").unwrap().is_null(last));
        assert_eq!(
            p.batch.column_by_name("dividend").unwrap().as_primitive::<arrow::datatypes::Float64Type>().value(last),
            0.0
        );
    }

    #[test]
    fn wide_matrix_rows_are_cells_and_every_cell_is_accounted_for() {
        let csv = "Date,AAA,BBB,CCC\n2024-07-01,10,,5\n2024-07-02,10.5,abc,0\nJuly 3,1,2,\n2024-07-01,1,1,1\n2024-07-05,,,\n2024-07-08,1,2\n";
        let p = parse(&source(SourceFormat::WidePriceMatrix), csv.as_bytes()).unwrap();
        assert_eq!(
            rejected(&p),
            vec![
                (3, Some("BBB"), "expected a number, found \"abc\""),
                (3, Some("CCC"), "a close must be positive, found 0"),
                (4, Some("Date"), "expected a date like 2024-06-28, found \"July 3\""),
                (4, Some("Date"), "expected a date like 2024-06-28, found \"July 3\""),
                (5, Some("Date"), "duplicate of line 2 (2024-07-01)"),
                (5, Some("Date"), "duplicate of line 2 (2024-07-01)"),
                (5, Some("Date"), "duplicate of line 2 (2024-07-01)"),
                (7, None, "expected 4 fields, found 3"),
                (7, None, "expected 4 fields, found 3"),
            ]
        );
        // Read: 2 + 3 + 2 + 3 + 0 (a day without prices) + 2 cells; accepted: AAA and CCC on
        // 1 July, AAA on 2 July.
        assert_eq!((p.rows_read, p.batch.num_rows()), (12, 3));
        assert_eq!(p.rows_read, p.batch.num_rows() as u64 + p.rejected.len() as u64);
        let codes = p.batch.column_by_name("index_code").unwrap().as_string::<i32>();
        assert_eq!(codes.value(0), "R2000");
    }

    #[test]
    fn wide_matrix_bad_files() {
        let f = SourceFormat::WidePriceMatrix;
        assert_eq!(
            error(f, b"Date,AAA,AAA\n2024-07-01,1,2\n"),
            "t.csv: unknown layout for format WidePriceMatrix: expected a header Date,<ticker>,<ticker>,... (unique tickers), found Date,AAA,AAA"
        );
        assert_eq!(error(f, b"Date,AAA\n"), "t.csv: the file has a header (1 tickers) but no rows");
        assert_eq!(
            error(f, b"Date,AAA\n\x00\x01"),
            "t.csv: the file holds binary data (NUL bytes), not CSV text (UTF-16 text needs a byte-order mark or encoding = \"utf-16le\")"
        );
        assert_eq!(
            error(f, b""),
            "t.csv: the file is empty; expected a header Date,<ticker>,<ticker>,... (unique tickers)"
        );
    }

    const HOLDINGS: &str = "\u{feff}iShares Russell 2000 ETF\n\
        Fund Holdings as of,\"May 13, 2025\"\n\
        Inception Date,\"May 22, 2000\"\n\
        Shares Outstanding,\"303,600,000.00\"\n\
        Stock,\"-\"\nBond,\"-\"\nCash,\"-\"\nOther,\"-\"\n\u{a0}\n\
        Ticker,Name,Sector,Asset Class,Market Value,Weight (%),Notional Value,Quantity,Price,Location,Exchange,Currency,FX Rate,Market Currency,Accrual Date\n\
        \"SFM\",\"SPROUTS\",\"Consumer Staples\",\"Equity\",\"409,233,878.82\",\"0.64\",\"409,233,878.82\",\"2,582,406.00\",\"158.47\",\"United States\",\"NASDAQ\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \"-\",\"PRIVATE CO\",\"Health Care\",\"Equity\",\"1.31\",\"0.00\",\"1.31\",\"130,676.00\",\"0.00\",\"United States\",\"NO MARKET\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \"XTSLA\",\"BLK CSH FND\",\"Cash and/or Derivatives\",\"Money Market\",\"1,000.00\",\"0.01\",\"1,000.00\",\"1,000.00\",\"1.00\",\"United States\",\"-\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \"BAD\",\"BAD PRICE\",\"Energy\",\"Equity\",\"1.00\",\"0.00\",\"1.00\",\"1.00\",\"1.2.3\",\"United States\",\"-\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \"NEG\",\"NEG PRICE\",\"Energy\",\"Equity\",\"1.00\",\"0.00\",\"1.00\",\"1.00\",\"-4.00\",\"United States\",\"-\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \"SHORT\",\"TOO FEW\",\"Energy\"\n\
        \"SFM\",\"SPROUTS\",\"Consumer Staples\",\"Equity\",\"409,233,878.82\",\"0.64\",\"409,233,878.82\",\"2,582,406.00\",\"158.47\",\"United States\",\"NASDAQ\",\"USD\",\"1.00\",\"USD\",\"-\"\n\
        \u{a0}\n\
        \"The content contained herein is owned or licensed by BlackRock\"\n\
        Holdings subject to change.\n";

    #[test]
    fn ishares_holdings_preamble_numbers_and_footer() {
        let p = parse(&source(SourceFormat::IsharesHoldings), HOLDINGS.as_bytes()).unwrap();
        assert_eq!(
            rejected(&p),
            vec![
                (14, Some("Price"), "expected a number like \"1,234.50\", found \"1.2.3\""),
                (15, Some("Price"), "a price cannot be negative, found -4"),
                (16, None, "expected 15 fields, found 3"),
                (17, None, "duplicate of line 11"),
            ]
        );
        // The legal footer is not rows; every holding line is accounted for.
        assert_eq!((p.rows_read, p.batch.num_rows()), (7, 3));
        assert_eq!(p.max_date, NaiveDate::from_ymd_opt(2025, 5, 13));
        let quantity = p.batch.column_by_name("quantity").unwrap().as_primitive::<arrow::datatypes::Float64Type>();
        assert_eq!(quantity.value(0), 2_582_406.0);
        let ticker = p.batch.column_by_name("ticker").unwrap();
        assert!(ticker.is_null(1), "an unlisted line has no ticker");
    }

    #[test]
    fn ishares_holdings_bad_files() {
        let f = SourceFormat::IsharesHoldings;
        assert!(
            error(f, b"Ticker,Name\nAAA,x\n").contains("expected a preamble line Fund Holdings as of,\"May 13, 2025\"")
        );
        let no_header = HOLDINGS.replace("Ticker,Name", "Symbol,Name");
        assert!(error(f, no_header.as_bytes()).contains("expected a header Ticker,Name,Sector,Asset Class"));
        let renamed = HOLDINGS.replace("Weight (%)", "Weight");
        assert!(error(f, renamed.as_bytes()).contains("unknown holdings layout"));
        let header_only = HOLDINGS.split("\"SFM\"").next().unwrap();
        assert_eq!(error(f, header_only.as_bytes()), "t.csv: the holdings file has a header but no holdings");
        let bad_date = HOLDINGS.replace("May 13, 2025", "13/05/2025");
        assert!(error(f, bad_date.as_bytes()).contains("found Fund Holdings as of,\"13/05/2025\""));
    }
}
