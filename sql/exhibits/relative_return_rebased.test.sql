-- Data test: both cumulative returns (and their difference) are zero on the base date.
-- Must return zero rows. Guards: relative_return.
select date, base_date, index_a_cumulative_pct, index_b_cumulative_pct, relative_return_pp
from relative_return
where date = base_date
  and (abs(index_a_cumulative_pct) > 1e-12 or abs(coalesce(index_b_cumulative_pct, 1)) > 1e-12)
