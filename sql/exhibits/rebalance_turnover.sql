-- rebalance_turnover: how much of each equal-weight index a rebalance trades.
-- grain: one row per (index_code, scheme, rebalance_date) after the first rebalance
-- inputs: rebalance_weights, rebalance_members, security_returns
--
-- turnover = 1/2 x sum over securities of |new weight - weight before the rebalance|, where the
-- weight before is the previous basket's weight drifted to this rebalance close
-- (w0 x tr_level(d) / tr_level0, normalised over the previous members with a price on d;
-- members deleted before d hold nothing). 0 = nothing traded, 1 = everything replaced.
-- additions / deletions: securities entering / leaving the basket (a member deleted between
-- the two rebalances counts as a deletion).
with

new_weights as (
    select index_code, scheme, rebalance_date, security_id, weight from rebalance_weights
),

previous as (
    select w.index_code, w.scheme, m.next_rebalance_date as rebalance_date, w.security_id,
           w.weight * s.tr_level / m.tr_level0 as drifted
    from rebalance_weights as w
    join rebalance_members as m
      on m.index_code = w.index_code and m.rebalance_date = w.rebalance_date and m.security_id = w.security_id
    join security_returns as s on s.security_id = w.security_id and s.date = m.next_rebalance_date
    where m.next_rebalance_date is not null
),

old_weights as (
    select index_code, scheme, rebalance_date, security_id,
           drifted / fsum(drifted) over (partition by index_code, scheme, rebalance_date) as weight
    from previous
),

paired as (
    select
        coalesce(n.index_code, o.index_code) as index_code,
        coalesce(n.scheme, o.scheme) as scheme,
        coalesce(n.rebalance_date, o.rebalance_date) as rebalance_date,
        coalesce(n.weight, 0) as new_weight,
        coalesce(o.weight, 0) as old_weight
    from new_weights as n
    full outer join old_weights as o
      on o.index_code = n.index_code and o.scheme = n.scheme
     and o.rebalance_date = n.rebalance_date and o.security_id = n.security_id
),

-- basket changes, including members deleted between the two rebalances
changes as (
    select
        coalesce(n.index_code, o.index_code) as index_code,
        coalesce(n.rebalance_date, o.next_rebalance_date) as rebalance_date,
        count(*) filter (where o.security_id is null) as additions,
        count(*) filter (where n.security_id is null) as deletions
    from (select * from rebalance_members where next_rebalance_date is not null) as o
    full outer join rebalance_members as n
      on n.index_code = o.index_code and n.rebalance_date = o.next_rebalance_date and n.security_id = o.security_id
    group by coalesce(n.index_code, o.index_code), coalesce(n.rebalance_date, o.next_rebalance_date)
),

final as (
    select
        p.index_code,
        p.scheme,
        p.rebalance_date,
        fsum(abs(p.new_weight - p.old_weight)) / 2 as turnover,
        max(c.additions) as additions,
        max(c.deletions) as deletions
    from paired as p
    join changes as c on c.index_code = p.index_code and c.rebalance_date = p.rebalance_date
    group by p.index_code, p.scheme, p.rebalance_date
    having fsum(p.old_weight) > 0
)

select * from final
order by index_code, scheme, rebalance_date
