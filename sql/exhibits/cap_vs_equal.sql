-- cap_vs_equal (exhibit 5): each index's daily return next to its equal-weighted counterparts.
-- grain: one row per (index_code, date) on which the engine has an equal-weighted return
-- inputs: daily_returns, constituent_index
--
-- cap_return_pct            : the delivered index (daily_returns of index_id = index_code), its
--                             basis in cap_return_basis (total return for an ETF's adjusted close)
-- cap_computed_return_pct   : the engine's cap-weighted index from constituents (needs shares)
-- sector_equal_return_pct   : the engine's sector-equal index (FTSE Russell's EW rule), total return
-- equal_return_pct          : the engine's 1/N index, total return
-- vendor_equal_return_pct   : a delivered equal-weight series, index_id = index_code || '_EW'
-- tracking_difference_pp    : sector_equal - vendor, in percentage points
-- All in percent, close to close; without_price = members without a price that day.
with

engine as (
    select index_code, scheme, date, total_return, without_price
    from constituent_index
    where total_return is not null
),

sector_equal as (
    select index_code, date, total_return, without_price from engine where scheme = 'sector_equal'
),

final as (
    select
        se.index_code,
        se.date,
        d.daily_return * 100 as cap_return_pct,
        d.return_basis as cap_return_basis,
        cw.total_return * 100 as cap_computed_return_pct,
        se.total_return * 100 as sector_equal_return_pct,
        eq.total_return * 100 as equal_return_pct,
        v.daily_return * 100 as vendor_equal_return_pct,
        (se.total_return - v.daily_return) * 100 as tracking_difference_pp,
        se.without_price
    from sector_equal as se
    left join engine as eq on eq.index_code = se.index_code and eq.date = se.date and eq.scheme = 'equal'
    left join engine as cw on cw.index_code = se.index_code and cw.date = se.date and cw.scheme = 'cap'
    left join daily_returns as d on d.index_id = se.index_code and d.date = se.date
    left join daily_returns as v on v.index_id = concat(se.index_code, '_EW') and v.date = se.date
)

select * from final
order by index_code, date
