-- Data test: ranks are 1..n without holes, and a better rank never has a smaller return.
-- Must return zero rows. Guards: largest_daily_moves.
with

moves as (
    select rank, date, target_return_pct,
           lag(target_return_pct) over (order by rank) as better_return,
           row_number() over (order by rank) as position
    from largest_daily_moves
)

select rank, date, target_return_pct, better_return
from moves
where rank <> position or target_return_pct > better_return
