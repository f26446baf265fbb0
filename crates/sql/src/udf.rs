//! Functions plain SQL lacks, registered in every session that runs models.
//!
//! `fsum(x)`: the sum of the non-null values, exactly rounded (Shewchuk's algorithm, as Python's
//! `math.fsum`): the same bits whatever order the rows arrive in. DataFusion's `sum` over a
//! parallel plan adds partial sums in the order threads finish, so a re-run could differ in the
//! last bit and a published file would not be the same bytes; the engine's weighted sums use
//! `fsum`. Also a window function.
//!
//! `product(x)`: the product of the non-null values of a group (NULL when there are none), for
//! compounding returns: `product(1 + ret) - 1`. Also a window function:
//! `product(1 + ret) over (partition by … order by date rows between unbounded preceding and 1 preceding)`
//! is the growth of one unit up to the previous row. The values are multiplied in input order,
//! exactly as a loop would (no `exp(sum(ln(…)))` rounding).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray};
use datafusion::arrow::datatypes::FieldRef;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{
    AccumulatorArgs, PartitionEvaluatorArgs, StateFieldsArgs, WindowUDFFieldArgs,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, PartitionEvaluator, Signature, Volatility,
    WindowUDF, WindowUDFImpl, create_udaf,
};

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

/// The `fsum` aggregate.
pub fn fsum() -> AggregateUDF {
    AggregateUDF::from(Fsum { signature: Signature::exact(vec![DataType::Float64], Volatility::Immutable) })
}

/// `fsum`: an [`ExactSum`] per group; grouped aggregation keeps them in one vector
/// ([`ExactSums`]) rather than one accumulator object per group.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Fsum {
    signature: Signature,
}

impl AggregateUDFImpl for Fsum {
    fn name(&self) -> &str {
        "fsum"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ExactSum::default()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(DataType::Float64, true));
        Ok(vec![Arc::new(Field::new(format!("{}[partials]", args.name), DataType::List(item), true))])
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(ExactSums::default()))
    }
}

/// The exact sums of many groups.
#[derive(Debug, Default)]
struct ExactSums {
    sums: Vec<ExactSum>,
}

impl ExactSums {
    fn grow(&mut self, total_num_groups: usize) {
        if self.sums.len() < total_num_groups {
            self.sums.resize_with(total_num_groups, ExactSum::default);
        }
    }
}

impl GroupsAccumulator for ExactSums {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.grow(total_num_groups);
        let values = values[0].as_primitive::<Float64Type>();
        for (i, g) in group_indices.iter().enumerate() {
            if values.is_valid(i) && opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i)) {
                self.sums[*g].add(values.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let sums = emit_to.take_needed(&mut self.sums);
        Ok(Arc::new(sums.iter().map(ExactSum::value).collect::<Float64Array>()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let mut sums = emit_to.take_needed(&mut self.sums);
        let states = sums.iter_mut().map(|s| s.state().map(|mut v| v.remove(0))).collect::<Result<Vec<_>>>()?;
        Ok(vec![ScalarValue::iter_to_array(states)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.grow(total_num_groups);
        let lists = values[0].as_list::<i32>();
        for (i, g) in group_indices.iter().enumerate() {
            if lists.is_null(i) {
                continue;
            }
            let partials = lists.value(i);
            let partials = partials.as_primitive::<Float64Type>();
            // A group that has seen values always has at least one partial in its state.
            for v in partials.iter().flatten() {
                self.sums[*g].add(v);
            }
        }
        Ok(())
    }

    /// Each row as a state of its own: a one-value list, or null when it is null or filtered out.
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let values = values[0].as_primitive::<Float64Type>();
        let lists = (0..values.len()).map(|i| {
            let kept = values.is_valid(i) && opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
            kept.then(|| vec![Some(values.value(i))])
        });
        Ok(vec![Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(lists))])
    }

    fn size(&self) -> usize {
        self.sums.capacity() * size_of::<ExactSum>()
            + self.sums.iter().map(|s| s.partials.capacity() * size_of::<f64>()).sum::<usize>()
    }
}

/// The exact sum of the values seen, as non-overlapping partials in increasing magnitude; the
/// non-finite values (if any) are summed apart.
#[derive(Debug, Default)]
struct ExactSum {
    partials: Vec<f64>,
    non_finite: Option<f64>,
    seen: bool,
}

impl ExactSum {
    fn add(&mut self, mut x: f64) {
        self.seen = true;
        if !x.is_finite() {
            self.non_finite = Some(self.non_finite.unwrap_or(0.0) + x);
            return;
        }
        let mut i = 0;
        for j in 0..self.partials.len() {
            let mut y = self.partials[j];
            if x.abs() < y.abs() {
                std::mem::swap(&mut x, &mut y);
            }
            let hi = x + y;
            let lo = y - (hi - x);
            if lo != 0.0 {
                self.partials[i] = lo;
                i += 1;
            }
            x = hi;
        }
        self.partials.truncate(i);
        self.partials.push(x);
    }

    /// The partials' sum rounded once (CPython's `math_fsum`, half-even across partials).
    fn value(&self) -> Option<f64> {
        if !self.seen {
            return None;
        }
        let p = &self.partials;
        let mut n = p.len();
        let mut hi = 0.0;
        if n > 0 {
            n -= 1;
            hi = p[n];
            let mut lo = 0.0;
            while n > 0 {
                let x = hi;
                n -= 1;
                let y = p[n];
                hi = x + y;
                lo = y - (hi - x);
                if lo != 0.0 {
                    break;
                }
            }
            if n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0)) {
                let y = lo * 2.0;
                let x = hi + y;
                if y == x - hi {
                    hi = x;
                }
            }
        }
        Some(self.non_finite.map_or(hi, |v| v + hi))
    }
}

impl Accumulator for ExactSum {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        for v in values[0].as_primitive::<Float64Type>().iter().flatten() {
            self.add(v);
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.value()))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.partials.capacity() * size_of::<f64>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        // The partials, and the non-finite sum as one more value: re-adding them is exact.
        let mut values: Vec<ScalarValue> = self.partials.iter().map(|v| ScalarValue::Float64(Some(*v))).collect();
        values.extend(self.non_finite.map(|v| ScalarValue::Float64(Some(v))));
        if !self.seen {
            return Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(&[], &DataType::Float64))]);
        }
        if values.is_empty() {
            values.push(ScalarValue::Float64(Some(0.0)));
        }
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float64))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for list in lists.iter().flatten() {
            for v in list.as_primitive::<Float64Type>().iter().flatten() {
                self.add(v);
            }
        }
        Ok(())
    }
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
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    use datafusion::prelude::SessionContext;

    #[test]
    fn fsum_is_exactly_rounded_in_any_order() {
        use datafusion::logical_expr::Accumulator;
        let values = [1e16, 1.0, -1e16, 0.1, 0.2, 0.3, 1e-3, 3.0e15, -3.0e15];
        let sum = |order: &[usize]| {
            let mut s = super::ExactSum::default();
            for &i in order {
                s.add(values[i]);
            }
            s.evaluate().unwrap()
        };
        // Exactly: 1 + 0.1 + 0.2 + 0.3 + 0.001 = 1.601 (rounded once); a plain left-to-right sum
        // is not (1e16 + 1 loses the 1).
        let forward: Vec<usize> = (0..values.len()).collect();
        let backward: Vec<usize> = forward.iter().rev().copied().collect();
        assert_eq!(sum(&forward), datafusion::common::ScalarValue::Float64(Some(1.601)));
        assert_eq!(sum(&forward), sum(&backward));
        assert_ne!(values.iter().sum::<f64>(), 1.601);
        // Merged from two halves (as a parallel plan does): the same bits.
        let (mut a, mut b) = (super::ExactSum::default(), super::ExactSum::default());
        values[..4].iter().for_each(|v| a.add(*v));
        values[4..].iter().for_each(|v| b.add(*v));
        a.merge_batch(&b.state().unwrap().iter().map(|s| s.to_array().unwrap()).collect::<Vec<_>>()).unwrap();
        assert_eq!(a.evaluate().unwrap(), datafusion::common::ScalarValue::Float64(Some(1.601)));
        assert_eq!(super::ExactSum::default().evaluate().unwrap(), datafusion::common::ScalarValue::Float64(None));
    }

    #[tokio::test]
    async fn fsum_groups_are_exact_through_partial_and_final_aggregation() {
        // 5000 groups over 4 partitions: every group's rows are 1e100, its own number g,
        // -1e100 and null, spread across partitions; the exact sum is g (a float sum gives 0).
        let ctx = SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().with_target_partitions(4));
        ctx.register_udaf(super::fsum());
        let sql = "select g, fsum(x) as s, count(x) as n from (
                     select value % 5000 as g,
                            case value / 5000 when 0 then 1e100 when 1 then cast(value % 5000 as double)
                                              when 2 then -1e100 else null end as x
                     from generate_series(0, 19999)) group by g order by g";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut groups = 0;
        for b in &batches {
            let (g, s) = (b.column(0).as_primitive::<Int64Type>(), b.column(1).as_primitive::<Float64Type>());
            for i in 0..b.num_rows() {
                assert_eq!(s.value(i), g.value(i) as f64, "group {}", g.value(i));
                groups += 1;
            }
        }
        assert_eq!(groups, 5000);
    }

    #[tokio::test]
    async fn fsum_is_an_aggregate_and_a_window_function() {
        let ctx = SessionContext::new();
        ctx.register_udaf(super::fsum());
        let sql = "select g, fsum(x) as s, fsum(x) over () as total from (values (1, 0.1), (1, 0.2), (2, null), (3, 1e100), (3, 1.0), (3, -1e100)) \
                   as t(g, x) group by g, x order by g, x";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        // fsum(x) over () sums the whole input exactly: 0.1 + 0.2 + 1 = 1.3 (1e100 cancels).
        assert!(text.contains("| 1.3 "), "{text}");
        let sql = "select g, fsum(x) as s from (values (1, 0.1), (1, 0.2), (2, null), (3, 1e100), (3, 1.0), (3, -1e100)) \
                   as t(g, x) group by g order by g";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
        assert!(
            text.contains("| 1 | 0.30000000000000004 |")
                && text.contains("| 2 |                     |")
                && text.contains("| 3 | 1.0 "),
            "{text}"
        );
    }

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

/// `turning_points(value, min_move, min_sessions) over (partition by … order by date)`: the
/// turning points of a series' trend (a zigzag), as `'start'`, `'peak'`, `'trough'`, `'end'` on
/// their rows and NULL elsewhere. A peak is confirmed once the value has fallen `min_move` (in
/// the value's unit) below it, a trough once it has risen `min_move` above it, and only if the
/// swing into it lasted at least `min_sessions` rows; a move past the last turning point before
/// that extends the previous swing instead. The first and last rows are the start and end.
/// Sequential by nature, hence a window function rather than SQL.
pub fn turning_points() -> WindowUDF {
    WindowUDF::from(TurningPoints { signature: Signature::any(3, Volatility::Immutable) })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TurningPoints {
    signature: Signature,
}

impl WindowUDFImpl for TurningPoints {
    fn name(&self) -> &str {
        "turning_points"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(TurningPointsEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(field_args.name(), DataType::Utf8, true)))
    }
}

#[derive(Debug)]
struct TurningPointsEvaluator;

impl PartitionEvaluator for TurningPointsEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let as_f64 = |a: &ArrayRef| datafusion::arrow::compute::cast(a, &DataType::Float64);
        let series = as_f64(&values[0])?;
        let series = series.as_primitive::<Float64Type>();
        let first = |a: &ArrayRef| -> Result<f64> {
            let a = as_f64(a)?;
            let a = a.as_primitive::<Float64Type>();
            match a.is_empty() || a.is_null(0) {
                true => datafusion::common::plan_err!("turning_points: min_move and min_sessions must not be null"),
                false => Ok(a.value(0)),
            }
        };
        let (min_move, min_sessions) = (first(&values[1])?, first(&values[2])? as usize);
        let points: Vec<(usize, f64)> = series.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
        let mut kinds: Vec<Option<&str>> = vec![None; num_rows];
        for (k, kind) in zigzag(&points.iter().map(|p| p.1).collect::<Vec<_>>(), min_move, min_sessions) {
            kinds[points[k].0] = Some(kind);
        }
        Ok(Arc::new(kinds.into_iter().collect::<datafusion::arrow::array::StringArray>()))
    }
}

/// The turning points of `v` (positions and kinds); see [`turning_points`].
fn zigzag(v: &[f64], min_move: f64, min_sessions: usize) -> Vec<(usize, &'static str)> {
    if v.is_empty() {
        return Vec::new();
    }
    // pivots[0] is the start; the others alternate peaks and troughs.
    let mut pivots = vec![0usize];
    let mut dir = 0i8; // +1 rising from the last pivot, -1 falling, 0 not yet known
    let mut ext = 0usize; // the extreme of the current swing
    for k in 1..v.len() {
        let p = *pivots.last().expect("the start");
        let up = |a: f64, b: f64| if dir >= 0 { a - b } else { b - a }; // move in the swing's direction
        if dir == 0 {
            if (v[k] - v[p]).abs() >= min_move {
                dir = if v[k] > v[p] { 1 } else { -1 };
                ext = k;
            }
        } else if up(v[k], v[ext]) > 0.0 {
            ext = k;
        } else if up(v[ext], v[k]) >= min_move && ext - p >= min_sessions {
            pivots.push(ext);
            dir = -dir;
            ext = k;
        } else if up(v[p], v[k]) > 0.0 {
            // Past the last turning point the other way: the previous swing was not over.
            if pivots.len() > 1 {
                *pivots.last_mut().expect("a pivot") = k;
                ext = k;
            } else if up(v[p], v[k]) >= min_move {
                dir = -dir;
                ext = k;
            }
        }
    }
    let last = v.len() - 1;
    if *pivots.last().expect("the start") != last {
        pivots.push(last);
    }
    let n = pivots.len();
    pivots
        .iter()
        .enumerate()
        .map(|(i, &k)| {
            let kind = match i {
                0 => "start",
                i if i == n - 1 => "end",
                _ if v[k] >= v[pivots[i - 1]] => "peak",
                _ => "trough",
            };
            (k, kind)
        })
        .collect()
}

#[cfg(test)]
mod zigzag_tests {
    use super::zigzag;

    #[test]
    fn swings_of_the_minimum_move_and_length_become_turning_points() {
        // Up 5 over 4 rows, down 4 over 3, up again: with a minimum move of 2 and length 2,
        // a peak at 4 and a trough at 7.
        let v = [0.0, 1.0, 2.0, 3.0, 5.0, 4.0, 2.0, 1.0, 3.0, 4.0];
        assert_eq!(zigzag(&v, 2.0, 2), [(0, "start"), (4, "peak"), (7, "trough"), (9, "end")]);
        // A dip smaller than the minimum move is no turning point.
        assert_eq!(zigzag(&v, 4.5, 2), [(0, "start"), (9, "end")]);
        // A swing shorter than the minimum length is not confirmed: the drop after the 1-row
        // rise to 3 extends the fall from the start.
        let v = [5.0, 2.0, 4.0, 1.0, 0.0, 3.0, 4.0];
        assert_eq!(zigzag(&v, 2.0, 2), [(0, "start"), (4, "trough"), (6, "end")]);
        assert_eq!(zigzag(&v, 2.0, 1), [(0, "start"), (1, "trough"), (2, "peak"), (4, "trough"), (6, "end")]);
        assert_eq!(zigzag(&[], 1.0, 1), []);
    }
}
