-- yield_periods (exhibit 4, table): returns of two indexes and the yield change over each
-- configured period.
-- grain: one row per period of config.periods
-- inputs: index_levels, yields, config.periods, config.params
--   params: index_a, index_b, yield_series
--
-- Conventions: close-to-close; a period's start is the close on its start date or the last
-- close before it, likewise its end (so a period ending after the as-of date ends at the last
-- close on or before it). Return = end level / start level - 1 in percent; difference a - b in
-- percentage points; the yield change is the yield as of the end minus as of the start, in bp.
with

params as (
    select index_a, index_b, yield_series from config.params
),

bounds as (
    select period_no, 'start' as side, start_date as at_date from config.periods
    union all
    select period_no, 'end' as side, end_date as at_date from config.periods
),

-- The last close on or before each bound, per index, and its level.
close_at_bound as (
    select b.period_no, b.side, l.index_id, max(l.date) as date
    from bounds as b
    join index_levels as l on l.date <= b.at_date
    join params as p on l.index_id in (p.index_a, p.index_b)
    group by b.period_no, b.side, l.index_id
),

level_at_bound as (
    select c.period_no, c.side, c.index_id, c.date, l.level
    from close_at_bound as c
    join index_levels as l on l.index_id = c.index_id and l.date = c.date
),

-- The yield as of each bound.
yield_date_at_bound as (
    select b.period_no, b.side, p.yield_series, max(y.date) as date
    from bounds as b
    join params as p on true
    join yields as y on y.series_id = p.yield_series and y.date <= b.at_date
    group by b.period_no, b.side, p.yield_series
),

yield_at_bound as (
    select d.period_no, d.side, d.date, y.yield_pct
    from yield_date_at_bound as d
    join yields as y on y.series_id = d.yield_series and y.date = d.date
),

period_returns as (
    select s.period_no, s.index_id, s.date as start_close_date, e.date as end_close_date,
           (e.level / s.level - 1) * 100 as return_pct
    from level_at_bound as s
    join level_at_bound as e
      on e.period_no = s.period_no and e.index_id = s.index_id and e.side = 'end'
    where s.side = 'start'
),

final as (
    select
        per.period_no,
        per.label,
        per.start_date,
        per.end_date,
        a.start_close_date,
        a.end_close_date,
        p.index_a,
        a.return_pct as index_a_return_pct,
        p.index_b,
        b.return_pct as index_b_return_pct,
        a.return_pct - b.return_pct as difference_pp,
        p.yield_series,
        ys.yield_pct as start_yield_pct,
        ye.yield_pct as end_yield_pct,
        (ye.yield_pct - ys.yield_pct) * 100 as yield_change_bp
    from config.periods as per
    cross join params as p
    left join period_returns as a on a.period_no = per.period_no and a.index_id = p.index_a
    left join period_returns as b on b.period_no = per.period_no and b.index_id = p.index_b
    left join yield_at_bound as ys on ys.period_no = per.period_no and ys.side = 'start'
    left join yield_at_bound as ye on ye.period_no = per.period_no and ye.side = 'end'
)

select * from final
order by period_no
