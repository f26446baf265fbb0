-- cap_vs_equal_periods (exhibit 5, table): period returns of each index and its equal-weighted
-- counterparts over the configured periods.
-- grain: one row per (index_code, period of config.periods) covered by the engine's levels
-- inputs: index_levels, constituent_index, config.periods
--
-- Close to close: a bound is the close on its date or the last close before it (as
-- yield_periods); return = level(end) / level(start) - 1 in percent, on the delivered index's
-- level (cap_return_pct) and the engine's total-return levels. A period that starts before an
-- engine index's base date has no engine return (null).
with

engine as (
    select index_code, scheme, date, total_return_level as level from constituent_index
),

engine_ids as (
    select distinct index_code as index_id from engine
    union
    select distinct concat(index_code, '_EW') as index_id from engine
),

delivered as (
    select l.index_id as index_code, 'delivered' as scheme, l.date, l.level
    from index_levels as l
    join engine_ids as e on e.index_id = l.index_id
),

series as (
    select * from engine
    union all
    select * from delivered
),

bounds as (
    select period_no, 'start' as side, start_date as at_date from config.periods
    union all
    select period_no, 'end' as side, end_date as at_date from config.periods
),

close_at_bound as (
    select b.period_no, b.side, s.index_code, s.scheme, max(s.date) as date
    from bounds as b
    join series as s on s.date <= b.at_date
    group by b.period_no, b.side, s.index_code, s.scheme
),

level_at_bound as (
    select c.period_no, c.side, c.index_code, c.scheme, c.date, s.level
    from close_at_bound as c
    join series as s on s.index_code = c.index_code and s.scheme = c.scheme and s.date = c.date
),

-- a start before the series' first level has no close at that bound: no return
returns as (
    select st.period_no, st.index_code, st.scheme, st.date as start_close_date, en.date as end_close_date,
           (en.level / st.level - 1) * 100 as return_pct
    from level_at_bound as st
    join level_at_bound as en
      on en.period_no = st.period_no and en.index_code = st.index_code and en.scheme = st.scheme and en.side = 'end'
    where st.side = 'start'
),

final as (
    select
        p.period_no,
        p.label,
        p.start_date,
        p.end_date,
        e.index_code,
        cap.return_pct as cap_return_pct,
        cw.return_pct as cap_computed_return_pct,
        e.return_pct as sector_equal_return_pct,
        eq.return_pct as equal_return_pct,
        v.return_pct as vendor_equal_return_pct,
        e.start_close_date,
        e.end_close_date
    from config.periods as p
    join returns as e on e.period_no = p.period_no and e.scheme = 'sector_equal'
    left join returns as eq on eq.period_no = p.period_no and eq.index_code = e.index_code and eq.scheme = 'equal'
    left join returns as cw on cw.period_no = p.period_no and cw.index_code = e.index_code and cw.scheme = 'cap'
    left join returns as cap on cap.period_no = p.period_no and cap.index_code = e.index_code and cap.scheme = 'delivered'
    left join returns as v
      on v.period_no = p.period_no and v.index_code = concat(e.index_code, '_EW') and v.scheme = 'delivered'
)

select * from final
order by index_code, period_no
