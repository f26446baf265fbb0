-- rebalance_weights: the equal-weight engine's weights set at the close of each rebalance date.
-- grain: one row per (index_code, scheme, rebalance_date, security_id)
-- inputs: rebalance_members
--
-- Exact fractions of the index (no share rounding); they sum to 1 per index, scheme and date
-- (data test rebalance_weights_sum_to_one). Sector and its source as in rebalance_members.
with

members as (
    select * from rebalance_members
),

final as (
    select
        m.index_code,
        s.scheme,
        m.rebalance_date,
        m.security_id,
        m.ticker,
        m.sector,
        m.sector_source,
        case when s.scheme = 'equal' then m.equal_weight else m.sector_equal_weight end as weight,
        m.members,
        m.sector_count
    from members as m
    cross join (values ('equal'), ('sector_equal')) as s(scheme)
)

select * from final
order by index_code, scheme, rebalance_date, security_id
