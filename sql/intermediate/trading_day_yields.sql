-- trading_day_yields: each yield series as of every trading day of every index.
-- grain: one row per (index_id, series_id, date) for each date of the index
-- inputs: index_levels, yields
--
-- Bond and equity holidays differ, so a yield is taken as of the last yield date on or before
-- the equity date (an as-of join). yield_change_bp is the change since the index's previous
-- trading day, in basis points.
with

equity_dates as (
    select distinct index_id, date from index_levels
),

series as (
    select distinct series_id from yields
),

-- Equity dates and yield dates, per index and series; on a shared date the yield row sorts
-- first so that the equity row sees the same day's yield.
timeline as (
    select e.index_id, s.series_id, e.date, 1 as is_equity_date, cast(null as date) as yield_date
    from equity_dates as e
    cross join series as s
    union all
    select i.index_id, y.series_id, y.date, 0 as is_equity_date, y.date as yield_date
    from yields as y
    cross join (select distinct index_id from equity_dates) as i
),

-- The last yield date on or before each date: yield dates only grow along the timeline, so a
-- running max is the as-of date (and aggregates incrementally, unlike last_value ignore nulls).
as_of_dates as (
    select
        index_id,
        series_id,
        date,
        is_equity_date,
        max(yield_date) over (
            partition by index_id, series_id
            order by date, is_equity_date
            rows between unbounded preceding and current row
        ) as yield_date
    from timeline
),

as_of_joined as (
    select a.index_id, a.series_id, a.date, a.yield_date, y.yield_pct
    from as_of_dates as a
    left join yields as y on y.series_id = a.series_id and y.date = a.yield_date
    where a.is_equity_date = 1
),

final as (
    select
        index_id,
        series_id,
        date,
        yield_date,
        yield_pct,
        (yield_pct - lag(yield_pct) over (partition by index_id, series_id order by date)) * 100
            as yield_change_bp
    from as_of_joined
)

select * from final
order by index_id, series_id, date
