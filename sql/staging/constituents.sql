-- constituents: every security's priced days, up to the as-of date.
-- grain: one row per (security_id, date)
-- inputs: lake.constituents (canonical constituents CSV, wide price matrix), config.params (as_of)
--
-- close: a price (canonical file, dividends in `dividend`, paid on that date) or an adjusted
-- close (price matrix: dividend 0, the close is already a total-return level). index_code is the
-- index the security belongs to on that date; sector and shares are null when the vendor file
-- does not carry them (the matrix: sectors come from a holdings snapshot, see
-- rebalance_members). A day without a row is a day without a price.
with

rows_ as (
    select date, security_id, ticker, sector, index_code, shares, close, dividend, source
    from lake.constituents
),

final as (
    select * from rows_
    where date <= (select as_of from config.params)
)

-- Not published: left unsorted (a sort of every price row costs more than the models using it).
select * from final
