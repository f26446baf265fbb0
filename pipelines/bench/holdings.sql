-- No holdings snapshots: the bench's rows carry their sectors.
select cast(null as date) as as_of, cast(null as varchar) as index_code, cast(null as varchar) as ticker,
       cast(null as varchar) as sector
where false
