-- Weights are fractions of the index: they sum to 1 at every rebalance.
select index_code, scheme, rebalance_date, sum(weight) as total
from rebalance_weights
group by index_code, scheme, rebalance_date
having abs(sum(weight) - 1) > 1e-12
