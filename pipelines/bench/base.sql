-- Every row of the drop with its daily total return: (close + dividend) / previous close - 1,
-- the previous row being the same security's on the previous trading day (securities trade on
-- every day between their first and last row). A security's first row has no return (NULL).
-- prev_cap = shares × close of that previous row: the cap weight of day t.
-- Kept in memory for returns.sql and index_returns.sql.
select
    date, security_id, ticker, index_code, sector,
    (close + dividend) / lag(close) over by_security - 1 as ret,
    lag(shares) over by_security * lag(close) over by_security as prev_cap
from prices
window by_security as (partition by security_id order by date)
