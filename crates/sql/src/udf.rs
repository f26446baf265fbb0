//! Functions plain SQL lacks, registered in every session that runs models.
//!
//! `product(x)`: the product of the non-null values of a group (NULL when there are none), for
//! compounding returns: `product(1 + ret) - 1`. Also a window function:
//! `product(1 + ret) over (partition by … order by date rows between unbounded preceding and 1 preceding)`
//! is the growth of one unit up to the previous row. The values are multiplied in input order,
//! exactly as a loop would (no `exp(sum(ln(…)))` rounding).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, AggregateUDF, Volatility, create_udaf};

/// The `product` aggregate.
pub fn product() -> AggregateUDF {
    create_udaf(
        "product",
        vec![DataType::Float64],
        Arc::new(DataType::Float64),
        Volatility::Immutable,
        Arc::new(|_| Ok(Box::new(Product::default()))),
        Arc::new(vec![DataType::Float64]),
    )
}

#[derive(Debug, Default)]
struct Product {
    value: Option<f64>,
}

impl Accumulator for Product {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.value = Some(self.value.unwrap_or(1.0) * v);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.value))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Float64(self.value)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.update_batch(states)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Array;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn product_multiplies_non_null_values_per_group_and_over_a_window() {
        let ctx = SessionContext::new();
        ctx.register_udaf(super::product());
        let sql = "select g, product(x) as p from (values (1, 1.5), (1, 2.0), (1, null), (2, null), (3, -0.5), (3, 4.0)) \
                   as t(g, x) group by g order by g";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        // 1.5 * 2 = 3; group 2 has no value; -0.5 * 4 = -2.
        assert!(
            text.contains("| 1 | 3.0  |") && text.contains("| 2 |      |") && text.contains("| 3 | -2.0 |"),
            "{text}"
        );

        let sql = "select d, product(1 + r) over (order by d rows between unbounded preceding and 1 preceding) as g \
                   from (values (1, 0.1), (2, 0.2), (3, -0.5)) as t(d, r) order by d";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let g = batches[0].column(1).as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().unwrap();
        // Row 1 has no preceding row; then 1.1; then 1.1 * 1.2.
        assert_eq!((g.is_null(0), g.value(1), g.value(2)), (true, 1.1, 1.1 * 1.2));
    }
}
