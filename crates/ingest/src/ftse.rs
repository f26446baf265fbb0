//! FTSE Russell's "Daily Values" file (`daily_values_russell_YYMMDD.CSV`): a preamble with the
//! `As of <Month D, YYYY>` date, a 15-column header (`,"Open","High","Low","Close",…`), index
//! rows separated by all-comma rows, then a legal footer. Each index row becomes one row of
//! `index_levels`: its price level (the Close) on the as-of date, `index_id` the name without
//! ®/™ and the trailing " Index" (`Russell 2000® Index` → `Russell 2000`).
//!
//! A row of the ledger is an index row: a line with a name and at least one value before the
//! footer (the first line with a name and no values, e.g. "Values calculated by FTSE Russell.").
//! The file may be UTF-8 or Windows-1252 (FTSE's SFTP files are read as Latin-1 by other tools).

use std::io::Read;
use std::sync::Arc;

use arrow::array::{Date32Array, Float64Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use exhibits_core::calendar::epoch_days;
use exhibits_core::pipeline::Source;

use crate::formats::{duplicate, index_levels_schema, raw_text, table_start};
use crate::input::{Csv, read_lines};
use crate::stage::Out;
use crate::{IngestError, Rejected};

pub(crate) const HEADER: &str = ",Open,High,Low,Close,Net Chg,% Chg,High,Low,Net Chg,% Chg,High,Low,Net Chg,% Chg";

/// `Russell 2000® Index` → `Russell 2000`.
fn index_id(name: &str) -> String {
    let plain: String = name.chars().filter(|c| !matches!(c, '®' | '™')).collect();
    let plain = plain.trim();
    plain.strip_suffix(" Index").unwrap_or(plain).trim().to_string()
}

pub(crate) fn daily_values(
    source: &Source,
    mut text: Box<dyn std::io::BufRead>,
    out: &mut Out<'_>,
    bad: &dyn Fn(String) -> IngestError,
) -> Result<(), IngestError> {
    let head = read_lines(&mut text, 15, bad)?;
    let as_of_line = head.lines().take(10).find(|l| l.trim_start_matches('"').starts_with("As of "));
    let as_of = as_of_line
        .and_then(|l| {
            let v = l.trim_start_matches('"').trim_start_matches("As of ");
            let v = v.split('"').next().unwrap_or(v).split(",,").next().unwrap_or(v);
            NaiveDate::parse_from_str(v.trim(), "%B %d, %Y").ok()
        })
        .ok_or_else(|| {
            bad(format!(
                "not an FTSE Russell Daily Values file: expected a line \"As of August 27, 2025\" in the first 10 lines, found {}",
                as_of_line.unwrap_or("none")
            ))
        })?;
    let (header_at, lines_before) = table_start(&head, 15, &[",\"Open\"", ",Open"]).ok_or_else(|| {
        bad(format!("not an FTSE Russell Daily Values file: expected a header {HEADER} in the first 15 lines"))
    })?;
    let mut csv = Csv::new(std::io::Cursor::new(head[header_at..].to_string()).chain(text), lines_before);
    let names = csv.header(bad)?;
    if names.join(",") != HEADER {
        return Err(bad(format!("unknown Daily Values layout: expected a header {HEADER}, found {}", names.join(","))));
    }
    let close = names.iter().position(|n| n == "Close").expect("header checked");

    let (mut ids, mut levels) = (Vec::new(), Vec::new());
    let late = crate::formats::after_until(source, as_of);
    let day = epoch_days(as_of);
    csv.records(bad, |line, rec| {
        let name = rec.get(0).unwrap_or("").trim();
        let has_values = (1..rec.len()).any(|i| !rec.get(i).unwrap_or("").trim().is_empty());
        match (name.is_empty(), has_values) {
            (true, _) => return Ok(true),       // a separator row
            (false, false) => return Ok(false), // the legal footer begins
            (false, true) => {}
        }
        out.row_read();
        let raw = rec.get(close).unwrap_or("").trim();
        let id = index_id(name);
        let reason = match raw.replace(',', "").parse::<f64>() {
            _ if late.is_some() => late.clone(),
            _ if rec.len() != names.len() => Some(format!("expected {} fields, found {}", names.len(), rec.len())),
            Ok(v) if v.is_finite() && v > 0.0 => match out.earlier(day, &id, line)? {
                Some(earlier) => Some(duplicate(&earlier, &id)),
                None => {
                    ids.push(id);
                    levels.push(v);
                    None
                }
            },
            Ok(v) => Some(format!("a level must be positive, found {v}")),
            Err(_) => Some(format!("expected a number, found {raw:?}")),
        };
        if let Some(reason) = reason {
            let column = if late.is_some() { "As of" } else { "Close" };
            out.reject(Rejected { line, column: Some(column.into()), raw: raw_text(rec), reason })?;
        }
        Ok(true)
    })?;
    if out.rows_read() == 0 {
        return Err(bad("the Daily Values file has a header but no index rows".into()));
    }
    // One row per index of the file: a handful, written as one batch.
    let n = ids.len();
    out.write(
        RecordBatch::try_new(
            index_levels_schema(),
            vec![
                Arc::new(Date32Array::from(vec![day; n])),
                Arc::new(StringArray::from_iter_values(ids.iter())),
                Arc::new(Float64Array::from(levels)),
                Arc::new(Float64Array::from(vec![None::<f64>; n])),
                Arc::new(StringArray::from(vec![source.name.as_str(); n])),
            ],
        )
        .expect("columns match the canonical schema"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Parsed;
    use exhibits_core::pipeline::SourceFormat;

    const FILE: &str = "\"Daily Values\",,,\n\"As of August 27, 2025\",,,\n\
        ,\"Open\",\"High\",\"Low\",\"Close\",\"Net Chg\",\"% Chg\",\"High\",\"Low\",\"Net Chg\",\"% Chg\",\"High\",\"Low\",\"Net Chg\",\"% Chg\"\n\
        Russell 2000® Index,1,1,1,2373.80,1,1,1,1,1,1,1,1,1,1\n\
        ,,,,,,,,,,,,,,\n\
        Russell 1000® Index,1,1,1,n/a,1,1,1,1,1,1,1,1,1,1\n\
        Russell 2000® Index,1,1,1,2373.80,1,1,1,1,1,1,1,1,1,1\n\
        Russell 3000® Index,1,1,1,5.0\n\
        Values calculated by FTSE Russell.,,,,,,,,,,,,,,\n\
        Russell® is a trade mark,1,,,,,,,,,,,,,\n";

    fn parse(text: &str) -> Result<Parsed, IngestError> {
        let source = Source::new("t", SourceFormat::FtseDailyValues, "t.csv");
        crate::parse(&source, text.as_bytes())
    }

    #[test]
    fn index_rows_until_the_footer_and_bad_rows_quarantined() {
        let p = parse(FILE).unwrap();
        let got: Vec<(u64, &str)> = p.rejected.iter().map(|r| (r.line, r.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                (6, "expected a number, found \"n/a\""),
                (7, "duplicate of line 4 (Russell 2000)"),
                (8, "expected 15 fields, found 5")
            ]
        );
        assert_eq!((p.rows_read, p.batch.num_rows()), (4, 1), "the footer is not rows");
    }

    #[test]
    fn files_that_are_not_daily_values() {
        let err = |t: &str| parse(t).err().unwrap().to_string();
        assert!(err("Date,Close\n2024-07-01,1\n").contains("expected a line \"As of August 27, 2025\""));
        assert!(err(&FILE.replace("\"Close\"", "\"Last\"")).contains("unknown Daily Values layout"));
        assert!(err(&FILE.replace(",\"Open\"", "\"Open\"")).contains("expected a header ,Open,High"));
        let header_only = FILE.split("Russell 2000").next().unwrap();
        assert_eq!(err(header_only), "t.csv: the Daily Values file has a header but no index rows");
    }

    #[test]
    fn names_lose_their_marks() {
        assert_eq!(index_id("Russell 2000® Index"), "Russell 2000");
        assert_eq!(index_id("Russell Microcap® Index"), "Russell Microcap");
        assert_eq!(index_id("Russell 1000 Energy Industry Index"), "Russell 1000 Energy Industry");
    }
}
