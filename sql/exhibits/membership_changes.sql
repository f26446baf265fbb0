-- membership_changes (exhibit 7): additions, deletions and migrations between indexes from two
-- membership snapshots.
-- grain: one row per (basis, ticker, change)
-- inputs: holdings, rebalance_members, config.params
--   params: membership_from, membership_to (dates)
--
-- Snapshots: holdings files (basis 'holdings'), and the engine's baskets at each rebalance date
-- (basis 'constituents', e.g. two reconstitutions of the generated universe). Each side of the
-- comparison is, per index, its latest snapshot on or before membership_from (resp.
-- membership_to). A ticker in index A on the from side and in B (≠ A) on the to side migrated
-- A → B; in A and in no index on the to side: deleted from A; in no index on the from side and
-- in B on the to side: added to B. Additions and deletions are only reported for an index with
-- a snapshot on both sides (an index first seen on the to side is only a migration target).
with

params as (
    select membership_from, membership_to from config.params
),

snapshots as (
    select 'holdings' as basis, as_of as snapshot_date, index_code, ticker, sector from holdings
    union all
    select 'constituents' as basis, rebalance_date as snapshot_date, index_code,
           coalesce(ticker, security_id) as ticker, sector
    from rebalance_members
),

-- each index's snapshot in force on each side
side_dates as (
    select s.basis, s.index_code, 'from' as side, max(s.snapshot_date) as snapshot_date
    from snapshots as s cross join params as p
    where s.snapshot_date <= p.membership_from
    group by s.basis, s.index_code
    union all
    select s.basis, s.index_code, 'to' as side, max(s.snapshot_date) as snapshot_date
    from snapshots as s cross join params as p
    where s.snapshot_date <= p.membership_to
    group by s.basis, s.index_code
),

members as (
    select d.basis, d.side, d.index_code, d.snapshot_date, s.ticker, s.sector
    from side_dates as d
    join snapshots as s
      on s.basis = d.basis and s.index_code = d.index_code and s.snapshot_date = d.snapshot_date
),

-- indexes with a snapshot on both sides, whose from side is not its to side
compared as (
    select f.basis, f.index_code
    from side_dates as f
    join side_dates as t on t.basis = f.basis and t.index_code = f.index_code and t.side = 'to'
    where f.side = 'from' and f.snapshot_date < t.snapshot_date
),

from_side as (
    select * from members where side = 'from'
),

to_side as (
    select * from members where side = 'to'
),

paired as (
    select
        coalesce(f.basis, t.basis) as basis,
        coalesce(f.ticker, t.ticker) as ticker,
        f.index_code as from_index,
        t.index_code as to_index,
        f.snapshot_date as from_snapshot,
        t.snapshot_date as to_snapshot,
        coalesce(t.sector, f.sector) as sector
    from from_side as f
    full outer join to_side as t on t.basis = f.basis and t.ticker = f.ticker
),

final as (
    select
        p.basis,
        p.ticker,
        case
            when p.from_index is not null and p.to_index is not null then 'migration'
            when p.to_index is null then 'deletion'
            else 'addition'
        end as change,
        p.from_index,
        p.to_index,
        p.from_snapshot,
        p.to_snapshot,
        p.sector
    from paired as p
    left join compared as cf on cf.basis = p.basis and cf.index_code = p.from_index
    left join compared as ct on ct.basis = p.basis and ct.index_code = p.to_index
    where (p.from_index is not null and p.to_index is not null and p.from_index <> p.to_index)
       or (p.to_index is null and cf.index_code is not null)
       or (p.from_index is null and ct.index_code is not null)
)

select * from final
order by basis, change, ticker
