-- period_returns (exhibit 1): each index's return over calendar months, quarters, halves and
-- years, the to-date windows of the as-of date (MTD, QTD, YTD, H1) and the custom periods of
-- the pipeline.
-- grain: one row per (index_id, period_type, label, period_end); custom labels may repeat
-- inputs: index_levels, config.params (as_of), config.periods (custom windows)
--
-- Conventions: close-to-close on the index's own trading days. A calendar period runs from the
-- last close of the previous period to its last close; the one in progress ends at the last
-- close on or before the as-of date (is_complete = false). MTD, QTD, YTD and H1 are the month,
-- quarter, year and first half that contain the as-of date (H1 from the last close of the
-- previous year to the last close of June). A custom period starts at the close on its start
-- date or the last close before it, and ends likewise. return_pct = end level / start level - 1
-- in percent; return_basis as in index_levels.
with

params as (
    select as_of from config.params
),

levels as (
    select index_id, date, level, return_basis from index_levels
),

-- The last close of every calendar month.
month_ends as (
    select index_id, date, level, return_basis, year, month
    from (
        select index_id, date, level, return_basis,
               cast(date_part('year', date) as bigint) as year,
               cast(date_part('month', date) as bigint) as month,
               row_number() over (
                   partition by index_id, date_part('year', date), date_part('month', date) order by date desc
               ) as from_end
        from levels
    ) as ranked
    where from_end = 1
),

-- Each period's last close; a period starts from the last close of the previous period of its
-- kind (the previous row by date).
period_ends as (
    select index_id, 'month' as period_type,
           cast(year as varchar) || '-' || lpad(cast(month as varchar), 2, '0') as label,
           make_date(year, month, 1) + interval '1 month' - interval '1 day' as period_end,
           date, level, return_basis
    from month_ends
    union all
    select index_id, 'quarter', cast(year as varchar) || 'Q' || cast(quarter as varchar),
           make_date(year, quarter * 3, 1) + interval '1 month' - interval '1 day',
           date, level, return_basis
    from (
        select m.*, (month + 2) / 3 as quarter,
               row_number() over (partition by index_id, year, (month + 2) / 3 order by date desc) as from_end
        from month_ends as m
    ) as q
    where from_end = 1
    union all
    select index_id, 'year', cast(year as varchar), make_date(year, 12, 31), date, level, return_basis
    from (
        select m.*, row_number() over (partition by index_id, year order by date desc) as from_end
        from month_ends as m
    ) as y
    where from_end = 1
),

calendar_periods as (
    select index_id, period_type, label, period_end, return_basis,
           lag(date) over by_kind as start_close_date,
           date as end_close_date,
           lag(level) over by_kind as start_level,
           level as end_level
    from period_ends
    window by_kind as (partition by index_id, period_type order by date)
),

-- H1: from the last close of the previous year to the last close of June (or to date).
first_halves as (
    select j.index_id, 'half' as period_type, cast(j.year as varchar) || 'H1' as label,
           make_date(j.year, 6, 30) as period_end, j.return_basis,
           d.date as start_close_date, j.date as end_close_date, d.level as start_level, j.level as end_level
    from (
        select m.*, row_number() over (partition by index_id, year order by date desc) as from_end
        from month_ends as m
        where month <= 6
    ) as j
    join month_ends as d on d.index_id = j.index_id and d.year = j.year - 1 and d.month = 12
    where j.from_end = 1
),

calendar as (
    select * from calendar_periods where start_level is not null
    union all
    select * from first_halves
),

-- The periods that contain the as-of date, under their to-date names.
to_date as (
    select c.index_id,
           case c.period_type when 'month' then 'MTD' when 'quarter' then 'QTD' when 'year' then 'YTD' else 'H1' end
               as period_type,
           c.label, c.period_end, c.return_basis, c.start_close_date, c.end_close_date, c.start_level, c.end_level
    from calendar as c
    cross join params as p
    where c.period_end >= p.as_of
      and c.period_end - (case c.period_type
                              when 'month' then interval '1 month'
                              when 'quarter' then interval '3 months'
                              when 'half' then interval '6 months'
                              else interval '1 year' end) < p.as_of
),

-- Custom periods: the last close on or before each bound.
custom_bounds as (
    select period_no, label, end_date, 'start' as side, start_date as at_date from config.periods
    union all
    select period_no, label, end_date, 'end' as side, end_date as at_date from config.periods
),

custom_close_dates as (
    select b.period_no, b.label, b.end_date, b.side, l.index_id, max(l.date) as date
    from custom_bounds as b
    join levels as l on l.date <= b.at_date
    group by b.period_no, b.label, b.end_date, b.side, l.index_id
),

custom_closes as (
    select c.period_no, c.label, c.end_date, c.side, c.index_id, c.date, l.level, l.return_basis
    from custom_close_dates as c
    join levels as l on l.index_id = c.index_id and l.date = c.date
),

custom as (
    select s.index_id, 'custom' as period_type, s.label, s.end_date as period_end, s.return_basis,
           s.date as start_close_date, e.date as end_close_date, s.level as start_level, e.level as end_level
    from custom_closes as s
    join custom_closes as e on e.period_no = s.period_no and e.index_id = s.index_id and e.side = 'end'
    where s.side = 'start'
),

final as (
    select
        a.index_id,
        a.period_type,
        a.label,
        a.start_close_date,
        a.end_close_date,
        cast(a.period_end as date) as period_end,
        (a.end_level / a.start_level - 1) * 100 as return_pct,
        a.return_basis,
        cast(a.period_end as date) <= p.as_of as is_complete
    from (
        select * from calendar
        union all
        select * from to_date
        union all
        select * from custom
    ) as a
    cross join params as p
)

select * from final
order by index_id, period_type, label, period_end
