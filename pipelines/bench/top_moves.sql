-- Per date, the 10 securities with the largest |return| (ties: smaller security_id first).
select date, rank, security_id, ticker, index_code, ret
from (
    select date, security_id, ticker, index_code, ret,
           row_number() over (partition by date order by abs(ret) desc, security_id) as rank
    from returns
)
where rank <= 10
order by date, rank
