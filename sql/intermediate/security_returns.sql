-- security_returns: each security's daily total and price return, cap weight and growth levels.
-- grain: one row per (security_id, date), as in constituents
-- inputs: constituents
--
-- Close to close over the security's own rows: a day without a price has no row, and the next
-- priced day's return spans both days. The first row of a security has no return (null).
--   total_return = (close + dividend) / previous close - 1    (dividend paid on `date`)
--   price_return = close / previous close - 1
--   prev_cap     = shares x close of the previous row: the cap weight of the day
--   tr_level     = close x the product of (1 + dividend / close) over the security's rows so
--                  far: a total-return level in price units, tr_level / prev_tr_level = 1 +
--                  total_return, so a weight's drift from date a to b is tr_level(b) / tr_level(a).
with

priced as (
    select
        date, security_id, ticker, sector, index_code, shares, close, dividend,
        lag(close) over by_security as prev_close,
        lag(shares) over by_security as prev_shares,
        exp(sum(ln(1 + dividend / close)) over (
            partition by security_id order by date rows between unbounded preceding and current row)) as dividend_factor
    from constituents
    window by_security as (partition by security_id order by date)
),

final as (
    select
        date,
        security_id,
        ticker,
        sector,
        index_code,
        close,
        prev_close,
        (close + dividend) / prev_close - 1 as total_return,
        close / prev_close - 1 as price_return,
        prev_shares * prev_close as prev_cap,
        close * dividend_factor as tr_level,
        prev_close * dividend_factor / (1 + dividend / close) as prev_tr_level
    from priced
)

-- Not published: left unsorted (a sort of every price row costs more than the models using it).
select * from final
