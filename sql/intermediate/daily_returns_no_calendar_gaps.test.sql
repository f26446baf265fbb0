-- Data test: no index skips more than a week of trading (a vendor file with missing rows).
-- Must return zero rows; the rows it returns are the gaps. Guards: daily_returns.
-- The longest real US market closure since 2000 (11-17 September 2001) is exactly 7 days.
select index_id, prev_date, date
from daily_returns
where prev_date < date - interval '7 days'
order by index_id, date
