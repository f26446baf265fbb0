-- Daily total return per security (the engine's security_returns), one row per security and
-- trading day after its first, written as OUT/returns/year=YYYY/*.parquet (the year only in the
-- path).
select date, security_id, ticker, index_code, sector, total_return as ret, cast(date_part('year', date) as bigint) as year
from security_returns
where total_return is not null
