-- yield_period_proposals (exhibit 4, proposed periods): periods split at the turning points of
-- the 10-year yield's trend, instead of configured [[periods]].
-- grain: one row per proposed period, in date order
-- inputs: yields, config.params
--   params: yield_series, proposal_start, proposal_end, proposal_min_move_bp,
--           proposal_min_sessions, proposal_month_ends
--
-- A turning point is a peak (or trough) of the yield after which it fell (rose) by at least
-- proposal_min_move_bp, reached by a swing of at least proposal_min_sessions yield dates
-- (turning_points(), a zigzag). With proposal_month_ends, each turning point moves to the nearer
-- of the month ends around it (the last yield date of its month or of the month before), as
-- published period tables do; the window's own bounds stay, and a turning point that would move
-- onto or past them is dropped. The window starts at the last yield on or before
-- proposal_start (or the first after it, when there is none). Yield change = end yield - start yield, in bp.
with

params as (
    select
        yield_series,
        proposal_start,
        proposal_end,
        proposal_min_move_bp / 100.0 as min_move_pct,
        proposal_min_sessions as min_sessions,
        proposal_month_ends as month_ends
    from config.params
),

series as (
    select date, yield_pct
    from yields
    where series_id = (select yield_series from params)
),

in_window as (
    select date, yield_pct
    from series
    where date <= (select proposal_end from params)
      and date >= coalesce(
          (select max(date) from series where date <= (select proposal_start from params)),
          (select proposal_start from params))
),

marked as (
    select w.date, w.yield_pct,
           turning_points(w.yield_pct, p.min_move_pct, p.min_sessions) over (order by w.date) as kind
    from in_window as w
    cross join params as p
),

month_ends as (
    select max(date) as month_end from series group by date_trunc('month', date)
),

-- each turning point and the month ends on both sides of it
around as (
    select
        m.date,
        m.kind,
        min(e.month_end) filter (where e.month_end >= m.date) as month_end_after,
        max(e.month_end) filter (where e.month_end < m.date) as month_end_before
    from marked as m
    cross join month_ends as e
    where m.kind in ('peak', 'trough')
    group by m.date, m.kind
),

points as (
    select date as turning_point, kind, date as bound from marked where kind in ('start', 'end')
    union all
    select
        a.date as turning_point,
        a.kind,
        case
            when not (select month_ends from params) then a.date
            when a.month_end_before is null then a.month_end_after
            when a.month_end_after is null then a.month_end_before
            when a.month_end_after - a.date <= a.date - a.month_end_before then a.month_end_after
            else a.month_end_before
        end as bound
    from around as a
),

-- two turning points moved to the same month end make one bound; one moved onto or past the
-- window's bounds (a turning point in the window's last days) none
bounds as (
    select bound, max(turning_point) as turning_point, max(kind) as kind
    from points
    where kind in ('start', 'end')
       or (bound > (select min(date) from in_window) and bound < (select max(date) from in_window))
    group by bound
),

periods as (
    select
        bound as start_date,
        lead(bound) over (order by bound) as end_date,
        lead(turning_point) over (order by bound) as turning_point,
        lead(kind) over (order by bound) as end_kind
    from bounds
),

-- the yield as of each bound (a month end may fall on a bond holiday)
yield_at as (
    select b.bound, max(s.date) as yield_date
    from bounds as b
    join series as s on s.date <= b.bound
    group by b.bound
),

final as (
    select
        cast(row_number() over (order by p.start_date) as bigint) as period_no,
        p.start_date,
        p.end_date,
        case when ye.yield_pct >= ys.yield_pct then 'yields up' else 'yields down' end as direction,
        ys.yield_pct as start_yield_pct,
        ye.yield_pct as end_yield_pct,
        (ye.yield_pct - ys.yield_pct) * 100 as yield_change_bp,
        case when p.end_kind = 'end' then null else p.turning_point end as turning_point_date
    from periods as p
    join yield_at as ds on ds.bound = p.start_date
    join series as ys on ys.date = ds.yield_date
    join yield_at as de on de.bound = p.end_date
    join series as ye on ye.date = de.yield_date
    where p.end_date is not null
)

select * from final
order by period_no
