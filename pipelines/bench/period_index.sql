-- Compounded return per period, index and method: product(1 + ret) - 1 over the days in (start, end].
select p.period, p.start_date, p.end_date, i.index_code, i.method, product(1 + i.ret) - 1 as ret, count(*) as n_days
from index_returns as i
join periods as p on i.date > p.start_date and i.date <= p.end_date
group by p.period, p.start_date, p.end_date, i.index_code, i.method
order by p.period, i.index_code, i.method
