-- Data test: every configured period has a start and an end close for both indexes and a yield
-- at both ends (a period before the data starts would silently be empty otherwise).
-- Must return zero rows. Guards: yield_periods.
select period_no, label, start_date, end_date
from yield_periods
where index_a_return_pct is null
   or index_b_return_pct is null
   or yield_change_bp is null
