-- constituent_index: indexes computed from constituents by the equal-weight engine (SPEC §5):
-- cap-weighted, equal-weighted (1/N) and sector-equal-weighted, total return and price.
-- grain: one row per (index_code, scheme, date), from each scheme's base date
-- inputs: security_returns, rebalance_members, config.rebalance_dates
--
-- cap          : sum(prev_cap x r) / sum(prev_cap) over the securities with that index_code on
--                the day and a return (weights = shares x close of the previous day); needs shares.
-- equal,
-- sector_equal : the basket of the last rebalance strictly before the day (rebalance_members),
--                each member weighted w0 x g, g its growth since the rebalance close to the
--                previous close (total-return levels for the total return, closes for the price
--                return): weights set at the rebalance close drift with the member's returns.
--                The day's return is sum(w0 g r) / sum(w0 g) over the members with a price that
--                day: a member without a price has no return that day (without_price counts them;
--                its next return spans the gap), a member that stopped trading (deleted) leaves
--                the index and the others keep their drifted weights (re-spread pro rata).
-- Sums are fsum (exactly rounded, so a re-run gives the same bits whatever order the
-- parallel plan adds rows in).
-- Levels start at 1000 on the base date (the first rebalance date; for cap, the trading day
-- before the index's first return) and compound the daily returns (product of 1 + r, multiplied in date order).
with

calendar as (
    select distinct date from security_returns
),

blocks as (
    select c.date, max(r.rebalance_date) as rebalance_date
    from calendar as c
    join config.rebalance_dates as r on r.rebalance_date < c.date
    group by c.date
),

-- members that stopped trading (deleted), per basket and last trading day
stopped as (
    select m.rebalance_date, m.index_code, l.last_date, count(*) as n
    from rebalance_members as m
    join (select security_id, max(date) as last_date from security_returns group by security_id) as l
      on l.security_id = m.security_id
    where m.next_rebalance_date is null or l.last_date < m.next_rebalance_date
    group by m.rebalance_date, m.index_code, l.last_date
),

held as (
    select
        b.date,
        m.index_code,
        m.equal_weight,
        m.sector_equal_weight,
        s.total_return,
        s.price_return,
        s.prev_tr_level / m.tr_level0 as total_growth,
        s.prev_close / m.close0 as price_growth
    -- Each price row finds its block, then its member row: two joins against small tables
    -- (blocks: one row per date; members: one per basket member), not one of every member-day
    -- against every price row.
    from security_returns as s
    join blocks as b on b.date = s.date
    join rebalance_members as m on m.rebalance_date = b.rebalance_date and m.security_id = s.security_id
),

basket as (
    select
        b.date,
        k.index_code,
        max(k.members) as members,
        coalesce(sum(st.n), 0) as deleted
    from blocks as b
    join (select distinct rebalance_date, index_code, members from rebalance_members) as k
      on k.rebalance_date = b.rebalance_date
    left join stopped as st
      on st.rebalance_date = b.rebalance_date and st.index_code = k.index_code and st.last_date < b.date
    group by b.date, k.index_code
),

weighted as (
    select
        date,
        index_code,
        fsum(equal_weight * total_growth * total_return) / fsum(equal_weight * total_growth) as equal_total,
        fsum(equal_weight * price_growth * price_return) / fsum(equal_weight * price_growth) as equal_price,
        fsum(sector_equal_weight * total_growth * total_return) / fsum(sector_equal_weight * total_growth) as sector_total,
        fsum(sector_equal_weight * price_growth * price_return) / fsum(sector_equal_weight * price_growth) as sector_price,
        count(*) as priced
    from held
    group by date, index_code
),

cap as (
    select
        date,
        index_code,
        'cap' as scheme,
        fsum(prev_cap * total_return) / fsum(prev_cap) as total_return,
        fsum(prev_cap * price_return) / fsum(prev_cap) as price_return,
        count(*) as members,
        count(*) as priced,
        0 as without_price
    from security_returns
    where index_code is not null and prev_cap is not null and total_return is not null
    group by date, index_code
),

equal as (
    select w.date, w.index_code, s.scheme,
           case when s.scheme = 'equal' then w.equal_total else w.sector_total end as total_return,
           case when s.scheme = 'equal' then w.equal_price else w.sector_price end as price_return,
           k.members, w.priced, k.members - w.priced - k.deleted as without_price
    from weighted as w
    join basket as k on k.date = w.date and k.index_code = w.index_code
    cross join (values ('equal'), ('sector_equal')) as s(scheme)
),

bases as (
    select index_code, s.scheme, min(rebalance_date) as date
    from rebalance_members
    cross join (values ('equal'), ('sector_equal')) as s(scheme)
    group by index_code, s.scheme
    union all
    -- cap: the trading day before the index's first return
    select f.index_code, 'cap' as scheme, max(c.date) as date
    from (select index_code, min(date) as first_date from cap group by index_code) as f
    join calendar as c on c.date < f.first_date
    group by f.index_code
),

daily as (
    select date, index_code, scheme, total_return, price_return, members, priced, without_price from cap
    union all
    select date, index_code, scheme, total_return, price_return, members, priced, without_price from equal
    union all
    select date, index_code, scheme, null, null, null, null, null from bases
),

final as (
    select
        index_code,
        scheme,
        date,
        total_return,
        price_return,
        1000 * coalesce(product(1 + total_return) over by_index, 1) as total_return_level,
        1000 * coalesce(product(1 + price_return) over by_index, 1) as price_level,
        members,
        priced,
        without_price
    from daily
    window by_index as (partition by index_code, scheme order by date rows between unbounded preceding and current row)
)

select * from final
order by index_code, scheme, date
