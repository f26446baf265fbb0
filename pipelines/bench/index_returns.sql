-- Index returns per day for every index code by the workload's three methods, from the engine's
-- constituent_index (sql/exhibits/constituent_index.sql): CW = cap, EW = equal, SEW =
-- sector_equal; ret = the total return, n = the members with a return that day. The engine's
-- rules are the workload's: weights set at the close of the last rebalance date strictly before
-- the day (the first trading day of each quarter, rebalance_dates.sql), members frozen until
-- the next one and drifting with their returns, members that stop trading drop out; the first
-- day of the data has no return.
select
    date,
    index_code,
    case scheme when 'cap' then 'CW' when 'equal' then 'EW' else 'SEW' end as method,
    total_return as ret,
    priced as n
from constituent_index
where total_return is not null
order by method, index_code, date
