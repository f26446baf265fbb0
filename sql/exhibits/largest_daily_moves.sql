-- largest_daily_moves (exhibit 3): the target index's largest daily gains in a window, with a
-- peer index's return on the same day and the change of a yield series in basis points.
-- grain: one row per rank (1 … top_n)
-- inputs: daily_returns, trading_day_yields, config.params
--   params: target_index, peer_index, yield_series, top_n, moves_window_start, moves_window_end
--
-- Conventions: returns are close-to-close on the target index's trading days, in percent; the
-- yield change is as of each equity date (last yield on or before it) minus the same on the
-- previous target trading day, in bp. The window ends at moves_window_end or the as-of date,
-- whichever is earlier. Ties rank the earlier date first.
with

params as (
    select
        as_of, target_index, peer_index, yield_series, top_n,
        moves_window_start as window_start,
        least(moves_window_end, as_of) as window_end
    from config.params
),

target as (
    select r.date, r.daily_return, r.return_basis
    from daily_returns as r
    join params as p
      on r.index_id = p.target_index
     and r.date between p.window_start and p.window_end
),

ranked as (
    select date, daily_return, return_basis,
           cast(row_number() over (order by daily_return desc, date) as bigint) as rank
    from target
),

peer as (
    select r.date, r.daily_return, r.return_basis
    from daily_returns as r
    join params as p on r.index_id = p.peer_index
),

yield_moves as (
    select y.date, y.yield_pct, y.yield_change_bp
    from trading_day_yields as y
    join params as p on y.index_id = p.target_index and y.series_id = p.yield_series
),

final as (
    select
        k.rank,
        k.date,
        p.target_index,
        k.daily_return * 100 as target_return_pct,
        k.return_basis as target_return_basis,
        p.peer_index,
        peer.daily_return * 100 as peer_return_pct,
        peer.return_basis as peer_return_basis,
        p.yield_series,
        y.yield_pct,
        y.yield_change_bp,
        p.window_start,
        p.window_end
    from ranked as k
    cross join params as p
    left join peer on peer.date = k.date
    left join yield_moves as y on y.date = k.date
    where k.rank <= p.top_n
)

select * from final
order by rank
