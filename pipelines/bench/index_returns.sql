-- Index returns per day for every index code, by three methods (WORKLOAD.md):
--   CW : sum(prev_cap * ret) / sum(prev_cap) over the rows of the index on day t (weights from t-1);
--   EW : weights 1/N set at the close of the last rebalance date d0 strictly before t (the first
--        trading day of each calendar quarter), over the index's members on d0 (frozen until the
--        next rebalance), drifting with the members' returns: sum(g * ret) / sum(g), g the
--        growth of one unit from d0 to t-1 (the level at t-1 over the level at d0, base.sql);
--        members that stop trading drop out;
--   SEW: the same with initial weights 1 / (K * n_k), K sectors in the index on d0, n_k members
--        of the sector.
-- n = rows (CW) or members (EW, SEW) used that day. The first day of the data has no return.
with calendar as (
    select distinct date from base
),
rebalances as (
    select min(date) as block from calendar group by date_part('year', date), date_part('quarter', date)
),
blocks as (
    -- each day's block: the last rebalance date strictly before it
    select c.date, max(r.block) as block from calendar as c join rebalances as r on r.block < c.date group by c.date
),
members as (
    select b.date as block, b.security_id, b.index_code, b.sector, b.level as level0
    from base as b join rebalances as r on b.date = r.block
),
sector_count as (
    select block, index_code, count(distinct sector) as k from members group by block, index_code
),
sector_size as (
    select block, index_code, sector, count(*) as n_k from members group by block, index_code, sector
),
weighted as (
    select m.block, m.security_id, m.index_code, m.level0, 1.0 / (c.k * s.n_k) as w_sew
    from members as m
    join sector_count as c on c.block = m.block and c.index_code = m.index_code
    join sector_size as s on s.block = m.block and s.index_code = m.index_code and s.sector = m.sector
),
held as (
    select b.date, w.index_code, b.ret, w.w_sew, b.prev_level / w.level0 as g
    from base as b
    join blocks as d on d.date = b.date
    join weighted as w on w.block = d.block and w.security_id = b.security_id
),
equal as (
    select date, index_code,
           sum(g * ret) / sum(g) as ew,
           sum(w_sew * g * ret) / sum(w_sew * g) as sew,
           count(*) as n
    from held group by date, index_code
),
cap as (
    select date, index_code, sum(prev_cap * ret) / sum(prev_cap) as ret, count(*) as n
    from base where ret is not null group by date, index_code
)
select date, index_code, 'CW' as method, ret, n from cap
union all
-- one pass over `equal` for both methods
select e.date, e.index_code, m.method, case when m.method = 'EW' then e.ew else e.sew end as ret, e.n
from equal as e cross join (values ('EW'), ('SEW')) as m(method)
order by method, index_code, date
