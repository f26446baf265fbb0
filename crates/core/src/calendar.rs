//! The US equity trading calendar: weekdays minus the NYSE full-day holidays.
//!
//! Holidays: New Year's Day, Martin Luther King Jr. Day, Presidents' Day, Good Friday, Memorial
//! Day, Juneteenth (from 2022), Independence Day, Labor Day, Thanksgiving and Christmas, with
//! Saturday holidays observed on the Friday before and Sunday holidays on the Monday after
//! (New Year's Day on a Saturday is not observed, as on the NYSE). One-off closures (national
//! days of mourning, 2012's hurricane) are not modelled: the calendar only decides what the
//! generator emits and when a vendor file can be expected, never which real dates exist.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("valid nth weekday")
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("valid month") - Duration::days(1);
    while d.weekday() != weekday {
        d -= Duration::days(1);
    }
    d
}

/// Days since 1970-01-01: Arrow's `Date32` value of `d`.
pub fn epoch_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// The date `days` days after 1970-01-01 (Arrow's `Date32`).
pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
        + chrono::Days::new(0)
        + chrono::TimeDelta::days(i64::from(days))
}

/// Easter Sunday (Gregorian, anonymous algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("valid Easter date")
}

/// The NYSE full-day holidays of `year` that fall on weekdays, unsorted.
pub fn holidays(year: i32) -> Vec<NaiveDate> {
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("valid date");
    let mut out = vec![
        nth_weekday(year, 1, Weekday::Mon, 3),
        nth_weekday(year, 2, Weekday::Mon, 3),
        easter(year) - Duration::days(2),
        last_weekday(year, 5, Weekday::Mon),
        observed(ymd(7, 4)),
        nth_weekday(year, 9, Weekday::Mon, 1),
        nth_weekday(year, 11, Weekday::Thu, 4),
        observed(ymd(12, 25)),
    ];
    // A Saturday New Year's Day is not observed on Friday 31 December.
    if ymd(1, 1).weekday() != Weekday::Sat {
        out.push(observed(ymd(1, 1)));
    }
    if year >= 2022 {
        out.push(observed(ymd(6, 19)));
    }
    out
}

/// Whether `d` is a trading day.
pub fn is_trading_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !holidays(d.year()).contains(&d)
}

/// The trading days of `year`, ascending.
pub fn trading_days(year: i32) -> Vec<NaiveDate> {
    let hols = holidays(year);
    NaiveDate::from_ymd_opt(year, 1, 1)
        .expect("valid year")
        .iter_days()
        .take_while(|d| d.year() == year)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !hols.contains(d))
        .collect()
}

/// The last trading day on or before `d`.
pub fn last_trading_day_on_or_before(d: NaiveDate) -> NaiveDate {
    let mut d = d;
    while !is_trading_day(d) {
        d -= Duration::days(1);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn easter_matches_known_dates() {
        assert_eq!(easter(2024), date("2024-03-31"));
        assert_eq!(easter(2025), date("2025-04-20"));
        assert_eq!(easter(2000), date("2000-04-23"));
    }

    #[test]
    fn nyse_2024_has_252_trading_days_and_its_holidays() {
        // NYSE published 252 trading days for 2024 (10 holidays incl. Juneteenth).
        let days = trading_days(2024);
        assert_eq!(days.len(), 252);
        for h in [
            "2024-01-01",
            "2024-01-15",
            "2024-02-19",
            "2024-03-29",
            "2024-05-27",
            "2024-06-19",
            "2024-07-04",
            "2024-09-02",
            "2024-11-28",
            "2024-12-25",
        ] {
            assert!(!is_trading_day(date(h)), "{h} is an NYSE holiday");
        }
        assert!(is_trading_day(date("2024-07-05")));
    }

    #[test]
    fn weekend_holidays_are_observed() {
        // 2021-07-04 was a Sunday: observed Monday 5 July; 2022-01-01 a Saturday: not observed.
        assert!(!is_trading_day(date("2021-07-05")));
        assert!(is_trading_day(date("2021-12-31")));
        assert_eq!(trading_days(2023).len(), 250);
    }

    #[test]
    fn last_trading_day_steps_back_over_weekends_and_holidays() {
        assert_eq!(last_trading_day_on_or_before(date("2024-07-07")), date("2024-07-05"));
        assert_eq!(last_trading_day_on_or_before(date("2024-07-04")), date("2024-07-03"));
        assert_eq!(last_trading_day_on_or_before(date("2024-07-03")), date("2024-07-03"));
    }
}
