-- rolling_extremes (exhibit 6): each index's best and worst return over N consecutive
-- sessions ending inside a window.
-- grain: one row per (index_id, extreme), extreme = best or worst
-- inputs: index_levels, config.params
--   params: rolling_sessions (N), rolling_window_start, rolling_window_end
--
-- Conventions: an N-session return ending on session t is level(t) / level(t - N) - 1 on the
-- index's own trading days (start_close_date is session t - N), in percent; t must fall in
-- [rolling_window_start, min(rolling_window_end, as_of)]; ties go to the earlier end date.
with

params as (
    select rolling_sessions as n, rolling_window_start as window_start,
           least(rolling_window_end, as_of) as window_end
    from config.params
),

sessions as (
    select index_id, date, level,
           cast(row_number() over (partition by index_id order by date) as bigint) as session_no
    from index_levels
),

-- The sessions that end a window, with the session each one starts from. Computed here rather
-- than in the join below: DataFusion 55 drops a join condition that reads a cross-joined table
-- (`… cross join params as p join sessions as s on … and s.session_no = e.session_no - p.n`
-- loses the second condition; see exhibits-sql's test
-- datafusion_55_drops_a_join_condition_that_reads_a_cross_joined_table).
ends as (
    select e.index_id, e.date, e.level, e.session_no - p.n as start_session_no
    from sessions as e
    cross join params as p
    where e.date between p.window_start and p.window_end
),

rolling as (
    select e.index_id, s.date as start_close_date, e.date as end_close_date,
           (e.level / s.level - 1) * 100 as return_pct
    from ends as e
    join sessions as s on s.index_id = e.index_id and s.session_no = e.start_session_no
),

ranked as (
    select r.*,
           row_number() over (partition by index_id order by return_pct desc, end_close_date) as best_rank,
           row_number() over (partition by index_id order by return_pct asc, end_close_date) as worst_rank
    from rolling as r
),

final as (
    select index_id, 'best' as extreme, p.n as sessions, start_close_date, end_close_date, return_pct
    from ranked cross join params as p
    where best_rank = 1
    union all
    select index_id, 'worst' as extreme, p.n as sessions, start_close_date, end_close_date, return_pct
    from ranked cross join params as p
    where worst_rank = 1
)

select * from final
order by index_id, extreme
