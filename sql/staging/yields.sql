-- yields: yield series in percent, up to the as-of date.
-- grain: one row per (series_id, date)
-- inputs: lake.yields, config.params (as_of)
with

yields as (
    select date, series_id, yield_pct, source
    from lake.yields
),

params as (
    select as_of from config.params
),

final as (
    select y.date, y.series_id, y.yield_pct, y.source
    from yields as y
    cross join params as p
    where y.date <= p.as_of
)

select * from final
order by series_id, date
