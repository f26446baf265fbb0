-- Compounded return per period and security with at least one return in (start, end].
select p.period, r.security_id, product(1 + r.ret) - 1 as ret, count(*) as n_days
from returns as r
join periods as p on r.date > p.start_date and r.date <= p.end_date
group by p.period, r.security_id
order by p.period, r.security_id
