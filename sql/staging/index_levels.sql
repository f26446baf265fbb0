-- index_levels: the level series each index's returns are computed from, up to the as-of date.
-- grain: one row per (index_id, date)
-- inputs: lake.index_levels (every ingested source), config.params (as_of)
--
-- Return basis: an index that has total-return levels uses them (dividends reinvested: a
-- delivered total-return level, or an ETF's adjusted close); an index with price levels only
-- uses those. One basis per index, never mixed, so returns never jump between the two.
with

levels as (
    select date, index_id, price_level, total_return_level, source
    from lake.index_levels
),

params as (
    select as_of from config.params
),

basis as (
    select
        index_id,
        case when count(total_return_level) > 0 then 'total_return' else 'price' end as return_basis
    from levels
    group by index_id
),

final as (
    select
        l.date,
        l.index_id,
        case when b.return_basis = 'total_return' then l.total_return_level else l.price_level end as level,
        b.return_basis,
        l.price_level,
        l.total_return_level,
        l.source
    from levels as l
    join basis as b on b.index_id = l.index_id
    cross join params as p
    where l.date <= p.as_of
)

select * from final
where level is not null
order by index_id, date
