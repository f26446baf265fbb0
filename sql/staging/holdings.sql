-- holdings: the equity lines of fund holdings snapshots (iShares), as reference data for index
-- membership and sectors.
-- grain: one row per (index_code, as_of, ticker); unlisted lines (no ticker) are left out, and a
-- ticker held on two lines (e.g. a share and its CVR) keeps its first sector and summed quantity.
-- inputs: lake.holdings
--
-- Not cut at the as-of date: a snapshot is a classification. rebalance_members uses the latest
-- snapshot on or before each rebalance date and, when there is none, the earliest after it
-- (stated in its sector_source column).
with

equities as (
    select as_of, index_code, ticker, sector, quantity, price, weight_pct
    from lake.holdings
    where asset_class = 'Equity' and ticker is not null
),

final as (
    select
        as_of,
        index_code,
        ticker,
        first_value(sector) as sector,
        fsum(quantity) as quantity,
        fsum(weight_pct) as weight_pct
    from equities
    group by as_of, index_code, ticker
)

select * from final
order by index_code, as_of, ticker
