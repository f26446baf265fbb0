-- Daily total return per security, one row per security and trading day after its first,
-- written as OUT/returns/year=YYYY/*.parquet (the year only in the path).
select date, security_id, ticker, index_code, sector, ret, cast(date_part('year', date) as bigint) as year
from base
where ret is not null
