-- Every row of the drop with its daily total return: (close + dividend) / previous close - 1,
-- the previous row being the same security's on the previous trading day (securities trade on
-- every day between their first and last row). A security's first row has no return (NULL).
-- prev_cap = shares × close of that previous row: the cap weight of day t.
-- level = a total-return level in price units, close × the product of (1 + dividend / close)
-- over the security's rows so far, so that level / previous level = 1 + ret; prev_level is the
-- previous row's. The equal-weight models divide two levels instead of compounding returns
-- per rebalance block. (ln(1 + 0) = 0 exactly: only dividend days add rounding, ~1e-16.)
-- One window node: two lags and one running sum share one sort by (security_id, date).
-- Kept in memory for returns.sql and index_returns.sql.
select
    date, security_id, ticker, index_code, sector,
    (close + dividend) / prev_close - 1 as ret,
    prev_shares * prev_close as prev_cap,
    close * dividend_factor as level,
    prev_close * dividend_factor / (1 + dividend / close) as prev_level
from (
    select
        date, security_id, ticker, index_code, sector, close, dividend,
        lag(close) over by_security as prev_close,
        lag(shares) over by_security as prev_shares,
        exp(sum(ln(1 + dividend / close)) over (
            partition by security_id order by date rows between unbounded preceding and current row)) as dividend_factor
    from prices
    window by_security as (partition by security_id order by date)
)
