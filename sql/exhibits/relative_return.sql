-- relative_return (exhibit 4, daily): cumulative returns of two indexes rebased to a base
-- date, their difference, and a yield series, on every trading day of index_a.
-- grain: one row per date from the base close to the end (index_a's trading days)
-- inputs: index_levels, trading_day_yields, config.params
--   params: index_a, index_b, yield_series, relative_base_date, relative_end_date
--
-- Conventions: the base is the close on relative_base_date, or the last close before it;
-- cumulative return = level / base level - 1 in percent; relative_return_pp = a - b in
-- percentage points; the yield is as of each date (last yield on or before it). The series
-- ends at relative_end_date or the as-of date, whichever is earlier.
with

params as (
    select index_a, index_b, yield_series, relative_base_date,
           least(relative_end_date, as_of) as end_date
    from config.params
),

levels as (
    select l.index_id, l.date, l.level
    from index_levels as l
    join params as p on l.index_id in (p.index_a, p.index_b)
),

base as (
    select index_id, level as base_level, date as base_date
    from (
        select l.index_id, l.date, l.level,
               row_number() over (partition by l.index_id order by l.date desc) as recency
        from levels as l
        cross join params as p
        where l.date <= p.relative_base_date
    ) as candidates
    where recency = 1
),

cumulative as (
    select l.index_id, l.date, (l.level / b.base_level - 1) * 100 as cumulative_return_pct, b.base_date
    from levels as l
    join base as b on b.index_id = l.index_id
    cross join params as p
    where l.date >= b.base_date and l.date <= p.end_date
),

final as (
    select
        a.date,
        p.index_a,
        a.cumulative_return_pct as index_a_cumulative_pct,
        p.index_b,
        b.cumulative_return_pct as index_b_cumulative_pct,
        a.cumulative_return_pct - b.cumulative_return_pct as relative_return_pp,
        p.yield_series,
        y.yield_pct,
        a.base_date
    from cumulative as a
    cross join params as p
    left join cumulative as b on b.date = a.date and b.index_id = p.index_b
    left join trading_day_yields as y
      on y.date = a.date and y.index_id = p.index_a and y.series_id = p.yield_series
    where a.index_id = p.index_a
)

select * from final
order by date
