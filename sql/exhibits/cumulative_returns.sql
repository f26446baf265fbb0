-- cumulative_returns (exhibit 2): the cumulative return of every index rebased to a base date,
-- on each trading day from the base close to the end of the window.
-- grain: one row per (index_id, date)
-- inputs: index_levels, config.params
--   params: rebase_date, rebase_end_date
--
-- Conventions: each index is rebased to its close on rebase_date or, when it has none that
-- day, its last close before it (so 2024-06-30, a Sunday, rebases to the 2024-06-28 close);
-- cumulative_return_pct = level / base level - 1 in percent, 0 on the base close;
-- rebased_level = 100 × level / base level. The window ends at rebase_end_date or the as-of
-- date, whichever is earlier. Which indexes appear is the pipeline's choice of sources.
with

params as (
    select rebase_date, least(rebase_end_date, as_of) as end_date from config.params
),

levels as (
    select index_id, date, level, return_basis from index_levels
),

base as (
    select index_id, date as base_date, level as base_level
    from (
        select l.index_id, l.date, l.level,
               row_number() over (partition by l.index_id order by l.date desc) as recency
        from levels as l
        cross join params as p
        where l.date <= p.rebase_date
    ) as candidates
    where recency = 1
),

final as (
    select
        l.index_id,
        l.date,
        b.base_date,
        (l.level / b.base_level - 1) * 100 as cumulative_return_pct,
        100 * l.level / b.base_level as rebased_level,
        l.return_basis
    from levels as l
    join base as b on b.index_id = l.index_id
    cross join params as p
    where l.date >= b.base_date and l.date <= p.end_date
)

select * from final
order by index_id, date
