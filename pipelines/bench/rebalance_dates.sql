-- config.rebalance_dates for the engine: the workload's rebalance dates, the first trading day
-- of each calendar quarter in the data (WORKLOAD.md).
select min(date) as rebalance_date
from (select distinct date from prices)
group by date_part('year', date), date_part('quarter', date)
