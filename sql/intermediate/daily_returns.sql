-- daily_returns: close-to-close return of each index on each of its trading days.
-- grain: one row per (index_id, date); an index's first date has no return and no row.
-- inputs: index_levels
--
-- daily_return = level(date) / level(previous date of the same index) - 1, as a fraction.
-- The previous date is the index's own previous trading day (holidays differ by index).
with

levels as (
    select date, index_id, level, return_basis
    from index_levels
),

returns as (
    select
        date,
        index_id,
        return_basis,
        level,
        lag(date) over by_index as prev_date,
        lag(level) over by_index as prev_level
    from levels
    window by_index as (partition by index_id order by date)
),

final as (
    select
        date,
        index_id,
        return_basis,
        prev_date,
        prev_level,
        level,
        level / prev_level - 1 as daily_return
    from returns
    where prev_level is not null
)

select * from final
order by index_id, date
