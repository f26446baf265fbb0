-- rebalance_members: the equal-weight engine's baskets, set at the close of each rebalance date.
-- grain: one row per (index_code, rebalance_date, security_id)
-- inputs: security_returns, holdings, config.rebalance_dates
--
-- Members of an index on a rebalance date d: the securities with a price on d and that
-- index_code on d. The basket holds until the next rebalance: a change of index_code in between
-- (a reconstitution) takes effect at the next rebalance; a security that stops trading (a
-- deletion) drops out, see constituent_index. Weights are exact fractions of the index:
--   equal        : 1 / N
--   sector_equal : 1 / (K x n_k), K sectors with members, n_k members of the member's sector
--                  (FTSE Russell's rule: each sector equal, each company equal within it).
-- Sectors are point in time: the sector on the security's row of d; when the price file has
-- none, the sector of the holdings snapshot of that index in force on d (the latest on or
-- before d, else the earliest after d); else 'Unclassified'. sector_source says which.
with

rebalances as (
    select rebalance_date,
           lead(rebalance_date) over (order by rebalance_date) as next_rebalance_date
    from config.rebalance_dates
),

on_date as (
    select r.rebalance_date, r.next_rebalance_date, s.index_code, s.security_id, s.ticker, s.sector,
           s.close as close0, s.tr_level as tr_level0
    from security_returns as s
    join rebalances as r on s.date = r.rebalance_date
    where s.index_code is not null
),

snapshot as (
    select o.rebalance_date, o.index_code,
           coalesce(max(h.as_of) filter (where h.as_of <= o.rebalance_date), min(h.as_of)) as snapshot_date
    from (select distinct rebalance_date, index_code from on_date) as o
    join holdings as h on h.index_code = o.index_code
    group by o.rebalance_date, o.index_code
),

classified as (
    select
        o.*,
        coalesce(o.sector, h.sector, 'Unclassified') as member_sector,
        case
            when o.sector is not null then 'constituents'
            when h.sector is not null then concat('holdings ', cast(h.as_of as varchar),
                case when h.as_of > o.rebalance_date then ' (after the rebalance date)' else '' end)
            else 'none'
        end as sector_source
    from on_date as o
    left join snapshot as sn on sn.rebalance_date = o.rebalance_date and sn.index_code = o.index_code
    left join holdings as h on h.index_code = o.index_code and h.as_of = sn.snapshot_date and h.ticker = o.ticker
),

counted as (
    select
        c.*,
        count(*) over (partition by rebalance_date, index_code) as members,
        count(*) over (partition by rebalance_date, index_code, member_sector) as sector_members
    from classified as c
),

sectors as (
    select rebalance_date, index_code, count(distinct member_sector) as sector_count
    from classified
    group by rebalance_date, index_code
),

final as (
    select
        c.index_code,
        c.rebalance_date,
        c.next_rebalance_date,
        c.security_id,
        c.ticker,
        c.member_sector as sector,
        c.sector_source,
        c.close0,
        c.tr_level0,
        c.members,
        s.sector_count,
        1.0 / c.members as equal_weight,
        1.0 / (s.sector_count * c.sector_members) as sector_equal_weight
    from counted as c
    join sectors as s on s.rebalance_date = c.rebalance_date and s.index_code = c.index_code
)

select * from final
order by index_code, rebalance_date, security_id
