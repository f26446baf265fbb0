-- The five report periods (start, end], chosen by position in the sorted distinct dates D of the
-- returns (n = |D|, integer division): (D[0], D[n-1]], (D[n/4], D[n/2]], (D[n/3], D[2n/3]],
-- (D[n-64], D[n-1]], (D[n/10], D[n/10+21]]. Kept in memory for the report models.
with dates as (
    select date, row_number() over (order by date) - 1 as i from (select distinct date from returns)
),
size as (
    select count(*) as n from dates
),
bounds as (
    select 1 as period, 0 as a, n - 1 as b from size
    union all select 2, n / 4, n / 2 from size
    union all select 3, n / 3, (2 * n) / 3 from size
    union all select 4, greatest(0, n - 64), n - 1 from size
    union all select 5, n / 10, least(n - 1, n / 10 + 21) from size
)
select p.period, s.date as start_date, e.date as end_date
from bounds as p join dates as s on s.i = p.a join dates as e on e.i = p.b
