-- The bench's Parquet (OUT/parquet, written by the ingest step) as the engine's `constituents`
-- (sql/staging/constituents.sql's columns). A view: read where the engine reads it.
select date, security_id, ticker, sector, index_code, cast(shares as double) as shares, close, dividend
from prices
