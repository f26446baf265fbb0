//! A faster plan for windows over many small partitions in time order.
//!
//! `lag(close) over (partition by security_id order by date)` makes DataFusion sort every row by
//! (security_id, date) and run its window operator partition by partition: with thousands of
//! securities and millions of rows, the sort and the per-partition bookkeeping are most of the
//! engine's time. The vendor files arrive in date order. [`KeyedWindowRule`] replaces such a
//! window with [`KeyedWindowExec`]: one pass over the input in `date` order that keeps each
//! key's state (the previous value, the running sum) in a hash map, no sort by key.
//!
//! It applies only where the result is the same, bit for bit: every function of the window is
//! `lag(x)` (offset 1, no default, nulls respected) or a running `sum(x)` (`ROWS BETWEEN
//! UNBOUNDED PRECEDING AND CURRENT ROW`, not distinct, no filter) of a `Float64`, and the window
//! orders by one column, ascending. The running sum adds the same values in the same order as
//! DataFusion's. Any other window is left to DataFusion. Rows that tie on (key, order column)
//! are taken in input order, as DataFusion's sort leaves them in an order of its choosing.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Float64Builder, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{Result, internal_err};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{WindowFrameBound, WindowFrameUnits};
use datafusion::physical_expr::window::{PlainAggregateWindowExpr, StandardWindowExpr};
use datafusion::physical_expr::{
    EquivalenceProperties, LexRequirement, OrderingRequirements, PhysicalExpr, PhysicalSortExpr,
    PhysicalSortRequirement,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet, RecordOutput};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec, WindowUDFExpr};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
    SendableRecordBatchStream, WindowExpr,
};
use futures::StreamExt;

/// One function of the window, evaluated per key.
#[derive(Debug, Clone)]
enum KeyedFn {
    /// The previous row's value of the same key (null on the key's first row).
    Lag(Arc<dyn PhysicalExpr>),
    /// The sum of the key's non-null values so far, this row included (null until one).
    RunningSum(Arc<dyn PhysicalExpr>),
}

/// The physical optimizer rule; runs before DataFusion adds sorts and repartitions.
#[derive(Debug, Default)]
pub struct KeyedWindowRule;

impl PhysicalOptimizerRule for KeyedWindowRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let window = if let Some(w) = node.downcast_ref::<BoundedWindowAggExec>() {
                Some((w.window_expr(), w.input()))
            } else {
                node.downcast_ref::<WindowAggExec>().map(|w| (w.window_expr(), w.input()))
            };
            let keyed = window.and_then(|(exprs, input)| KeyedWindowExec::try_new(exprs, input, node.schema()));
            Ok(match keyed {
                Some(exec) => Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "keyed_window"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `input`'s columns, then one column per window function, computed in one pass over `input`
/// in the order column's order (a single partition).
#[derive(Debug)]
pub struct KeyedWindowExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    order: PhysicalSortExpr,
    fns: Vec<KeyedFn>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl KeyedWindowExec {
    /// The keyed plan of a window with these functions over `input`, if it is one of the
    /// windows it computes exactly (see the module's documentation).
    fn try_new(exprs: &[Arc<dyn WindowExpr>], input: &Arc<dyn ExecutionPlan>, schema: SchemaRef) -> Option<Self> {
        let first = exprs.first()?;
        let keys = first.partition_by().to_vec();
        let [order] = first.order_by() else { return None };
        let ascending_column = order.expr.downcast_ref::<datafusion::physical_expr::expressions::Column>().is_some()
            && !order.options.descending;
        if keys.is_empty() || !ascending_column {
            return None;
        }
        let same_window = |e: &Arc<dyn WindowExpr>| {
            e.partition_by().len() == keys.len()
                && e.partition_by().iter().zip(&keys).all(|(a, b)| a.eq(b))
                && e.order_by() == first.order_by()
        };
        let input_schema = input.schema();
        let float = |x: &Arc<dyn PhysicalExpr>| x.data_type(&input_schema).ok() == Some(DataType::Float64);
        let mut fns = Vec::with_capacity(exprs.len());
        for e in exprs {
            if !same_window(e) {
                return None;
            }
            fns.push(keyed_fn(e.as_ref()).filter(|f| match f {
                KeyedFn::Lag(x) | KeyedFn::RunningSum(x) => float(x),
            })?);
        }
        // The output schema is the window's: the input's columns, then the functions'.
        let functions = schema.fields().len().checked_sub(input_schema.fields().len())?;
        if functions != fns.len()
            || fns
                .iter()
                .enumerate()
                .any(|(i, _)| schema.field(input_schema.fields().len() + i).data_type() != &DataType::Float64)
        {
            return None;
        }
        Some(KeyedWindowExec {
            properties: properties_over(input, schema),
            input: input.clone(),
            keys,
            order: order.clone(),
            fns,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

/// The keyed form of one window function, if it has one.
fn keyed_fn(e: &dyn WindowExpr) -> Option<KeyedFn> {
    let any: &dyn Any = e.as_any();
    if let Some(standard) = any.downcast_ref::<StandardWindowExpr>() {
        let udf = standard.get_standard_func_expr().as_any().downcast_ref::<WindowUDFExpr>()?;
        // `lag(x)`: one argument (offset 1, no default); IGNORE NULLS shows in the name.
        let plain = udf.fun().name() == "lag" && udf.args().len() == 1 && !e.name().contains("IGNORE NULLS");
        return plain.then(|| KeyedFn::Lag(udf.args()[0].clone()));
    }
    let aggregate = any.downcast_ref::<PlainAggregateWindowExpr>()?;
    let f = aggregate.get_aggregate_expr();
    let frame = e.get_window_frame();
    let running = frame.units == WindowFrameUnits::Rows
        && matches!(&frame.start_bound, WindowFrameBound::Preceding(v) if v.is_null())
        && frame.end_bound == WindowFrameBound::CurrentRow;
    let [arg] = f.expressions().try_into().ok()?;
    // A FILTER clause is not among the accessible parts of the expression; it shows in the name.
    (f.fun().name() == "sum" && !f.is_distinct() && !e.name().contains("FILTER") && running)
        .then_some(KeyedFn::RunningSum(arg))
}

impl DisplayAs for KeyedWindowExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        let fns: Vec<String> = self
            .fns
            .iter()
            .map(|f| match f {
                KeyedFn::Lag(x) => format!("lag({x})"),
                KeyedFn::RunningSum(x) => format!("running_sum({x})"),
            })
            .collect();
        write!(f, "KeyedWindowExec: by [{}] in order of {}: [{}]", keys.join(", "), self.order, fns.join(", "))
    }
}

impl ExecutionPlan for KeyedWindowExec {
    fn name(&self) -> &str {
        "KeyedWindowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let args = self.fns.iter().map(|k| match k {
            KeyedFn::Lag(x) | KeyedFn::RunningSum(x) => x,
        });
        for e in self.keys.iter().chain(std::iter::once(&self.order.expr)).chain(args) {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let requirement = PhysicalSortRequirement::new(self.order.expr.clone(), Some(self.order.options));
        vec![LexRequirement::new([requirement]).map(OrderingRequirements::new)]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("KeyedWindowExec has one child, got {}", children.len());
        }
        let input = children.swap_remove(0);
        Ok(Arc::new(KeyedWindowExec {
            properties: properties_over(&input, self.schema()),
            input,
            keys: self.keys.clone(),
            order: self.order.clone(),
            fns: self.fns.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        }))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("KeyedWindowExec has one partition, asked for {partition}");
        }
        let input_schema = self.input.schema();
        let key_fields =
            self.keys.iter().map(|k| k.data_type(&input_schema).map(SortField::new)).collect::<Result<Vec<_>>>()?;
        let mut state = KeyState {
            converter: RowConverter::new(key_fields)?,
            slots: HashMap::default(),
            keys: self.keys.clone(),
            fns: self.fns.clone(),
            last: vec![Vec::new(); self.fns.len()],
            schema: self.schema(),
        };
        let input = self.input.execute(0, context)?;
        let baseline = BaselineMetrics::new(&self.metrics, 0);
        let stream = input.map(move |batch| {
            let timer = baseline.elapsed_compute().timer();
            let out = batch.and_then(|b| state.next(&b));
            timer.done();
            out.map(|b| b.record_output(&baseline))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema(), stream)))
    }
}

/// One partition with `schema`, in `input`'s order (the input's columns keep their places).
fn properties_over(input: &Arc<dyn ExecutionPlan>, schema: SchemaRef) -> Arc<PlanProperties> {
    let mut eq = EquivalenceProperties::new(schema);
    if let Some(ordering) = input.output_ordering() {
        eq.add_ordering(ordering.iter().cloned());
    }
    Arc::new(PlanProperties::new(
        eq,
        Partitioning::UnknownPartitioning(1),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}

/// Each key's state between batches.
struct KeyState {
    converter: RowConverter,
    /// Key (in the row format) → its slot in `last`.
    slots: HashMap<Box<[u8]>, usize, ahash::RandomState>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    fns: Vec<KeyedFn>,
    /// Per function, per slot: the previous value (lag) or the running sum.
    last: Vec<Vec<Option<f64>>>,
    schema: SchemaRef,
}

impl KeyState {
    fn next(&mut self, batch: &RecordBatch) -> Result<RecordBatch> {
        let n = batch.num_rows();
        let keys = self.keys.iter().map(|k| k.evaluate(batch)?.into_array(n)).collect::<Result<Vec<_>>>()?;
        let rows = self.converter.convert_columns(&keys)?;
        let mut slot_of = Vec::with_capacity(n);
        for row in rows.iter() {
            let next = self.slots.len();
            let slot = match self.slots.get(row.as_ref()) {
                Some(s) => *s,
                None => {
                    self.slots.insert(row.as_ref().into(), next);
                    for last in &mut self.last {
                        last.push(None);
                    }
                    next
                }
            };
            slot_of.push(slot);
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (f, last) in self.fns.iter().zip(&mut self.last) {
            let (KeyedFn::Lag(x) | KeyedFn::RunningSum(x)) = f;
            let values = x.evaluate(batch)?.into_array(n)?;
            let Some(values) = values.as_any().downcast_ref::<Float64Array>() else {
                return internal_err!("KeyedWindowExec: {x} is not Float64");
            };
            let mut out = Float64Builder::with_capacity(n);
            for (i, slot) in slot_of.iter().enumerate() {
                let v = values.is_valid(i).then(|| values.value(i));
                let state = &mut last[*slot];
                match f {
                    KeyedFn::Lag(_) => {
                        out.append_option(*state);
                        *state = v;
                    }
                    KeyedFn::RunningSum(_) => {
                        if let Some(v) = v {
                            *state = Some(state.map_or(v, |s| s + v));
                        }
                        out.append_option(*state);
                    }
                }
            }
            columns.push(Arc::new(out.finish()));
        }
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// A session with `config` whose physical optimizer tries [`KeyedWindowRule`] first (before
/// DataFusion adds sorts and repartitions), unless `EXHIBITS_KEYED_WINDOW=off` (for measuring
/// the difference, docs/performance.md).
///
/// Hash joins whose build side has up to 4 Mi rows / 128 MiB are broadcast (one hash table,
/// the probe side streamed where it is) rather than hash-partitioned on both sides: the engine
/// joins tens of millions of price rows to baskets of some hundred thousand members, and
/// DataFusion's defaults (128 Ki rows / 1 MiB) would shuffle every price row.
pub fn session_context(mut config: datafusion::prelude::SessionConfig) -> datafusion::prelude::SessionContext {
    let defaults = datafusion::common::config::OptimizerOptions::default();
    let optimizer = &mut config.options_mut().optimizer;
    // Only where still DataFusion's default: DATAFUSION_OPTIMIZER_* variables win.
    if optimizer.hash_join_single_partition_threshold == defaults.hash_join_single_partition_threshold {
        optimizer.hash_join_single_partition_threshold = 128 << 20;
    }
    if optimizer.hash_join_single_partition_threshold_rows == defaults.hash_join_single_partition_threshold_rows {
        optimizer.hash_join_single_partition_threshold_rows = 4 << 20;
    }
    let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
    if std::env::var("EXHIBITS_KEYED_WINDOW").is_ok_and(|v| v == "off") {
        tracing::info!("EXHIBITS_KEYED_WINDOW=off: windows by key are sorted and run by DataFusion");
    } else {
        rules.insert(0, Arc::new(KeyedWindowRule));
    }
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(rules)
        .build();
    datafusion::prelude::SessionContext::new_with_state(state)
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Date32Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// 300 securities over 400 days in date order (securities shuffled within a day), each
    /// listed for a stretch of days with gaps, some closes and dividends null; two partitions
    /// of 997-row batches.
    fn table() -> MemTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("date", DataType::Date32, false),
            Field::new("k", DataType::Utf8, false),
            Field::new("x", DataType::Float64, true),
            Field::new("y", DataType::Float64, true),
        ]));
        let mut seed = 42u64;
        let mut rand = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        let (mut dates, mut keys, mut xs, mut ys) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for day in 0..400 {
            let mut order: Vec<u32> = (0..300).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rand() as usize % (i + 1));
            }
            for k in order {
                let (first, last) = (k as i32 % 97, 150 + (k as i32 * 7) % 250);
                if day < first || day > last || rand() % 10 == 0 {
                    continue;
                }
                dates.push(19000 + day);
                keys.push(format!("S{k:03}"));
                xs.push((rand() % 20 != 0).then(|| 10.0 + f64::from(rand() % 10_000) / 7.0));
                ys.push((rand() % 3 != 0).then(|| f64::from(rand() % 100) / 1000.0));
            }
        }
        let batches: Vec<RecordBatch> = (0..dates.len())
            .step_by(997)
            .map(|at| {
                let to = (at + 997).min(dates.len());
                RecordBatch::try_new(
                    schema.clone(),
                    vec![
                        Arc::new(Date32Array::from(dates[at..to].to_vec())),
                        Arc::new(StringArray::from_iter_values(&keys[at..to])),
                        Arc::new(Float64Array::from(xs[at..to].to_vec())),
                        Arc::new(Float64Array::from(ys[at..to].to_vec())),
                    ],
                )
                .unwrap()
            })
            .collect();
        let (even, odd): (Vec<_>, Vec<_>) = batches.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        let strip = |v: Vec<(usize, RecordBatch)>| v.into_iter().map(|(_, b)| b).collect::<Vec<_>>();
        MemTable::try_new(schema, vec![strip(even), strip(odd)]).unwrap()
    }

    const ENGINE_WINDOW: &str = "select k, date, x,
            lag(x) over w as prev_x, lag(y) over w as prev_y,
            sum(ln(1 + y / x)) over (partition by k order by date rows between unbounded preceding and current row) as s
        from t window w as (partition by k order by date)";

    /// The query's rows in (k, date) order, every float as its bits.
    async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        if !ctx.table_exist("t").unwrap() {
            ctx.register_table("t", Arc::new(table())).unwrap();
        }
        let batches = ctx.sql(&format!("{sql} order by k, date")).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        for b in &batches {
            let k = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let d = b.column(1).as_any().downcast_ref::<Date32Array>().unwrap();
            for i in 0..b.num_rows() {
                let floats: Vec<String> = (2..b.num_columns())
                    .map(|c| {
                        let f = b.column(c).as_any().downcast_ref::<Float64Array>().unwrap();
                        if f.is_null(i) { "null".into() } else { format!("{:016x}", f.value(i).to_bits()) }
                    })
                    .collect();
                out.push(format!("{} {} {}", k.value(i), d.value(i), floats.join(" ")));
            }
        }
        out
    }

    async fn plan(ctx: &SessionContext, sql: &str) -> String {
        if !ctx.table_exist("t").unwrap() {
            ctx.register_table("t", Arc::new(table())).unwrap();
        }
        let df = ctx.sql(sql).await.unwrap();
        let physical = df.create_physical_plan().await.unwrap();
        datafusion::physical_plan::displayable(physical.as_ref()).indent(true).to_string()
    }

    fn config() -> SessionConfig {
        SessionConfig::new().with_target_partitions(2)
    }

    #[tokio::test]
    async fn the_engine_window_gives_datafusions_results_bit_for_bit_without_the_sort_by_key() {
        let keyed = session_context(config());
        let p = plan(&keyed, ENGINE_WINDOW).await;
        assert!(p.contains("KeyedWindowExec"), "{p}");
        assert!(!p.contains("WindowAggExec"), "{p}");
        assert!(!p.contains("k@1 ASC"), "no sort by key: {p}");
        let want = rows(&SessionContext::new_with_config(config()), ENGINE_WINDOW).await;
        let got = rows(&keyed, ENGINE_WINDOW).await;
        assert!(want.len() > 50_000, "{} rows", want.len());
        assert!(want.iter().any(|r| r.contains("null")), "the data has nulls");
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w);
        }
    }

    #[tokio::test]
    async fn other_windows_are_left_to_datafusion() {
        let keyed = session_context(config());
        for sql in [
            "select k, date, lag(x, 2) over (partition by k order by date) from t",
            "select k, date, lag(x) over (partition by k order by date desc) from t",
            "select k, date, lead(x) over (partition by k order by date) from t",
            "select k, date, sum(x) over (partition by k order by date) from t",
            "select k, date, sum(x) over (partition by k order by date rows between 1 preceding and current row) from t",
            "select k, date, lag(x) over (order by date) from t",
            "select k, date, lag(k) over (partition by k order by date) from t",
            "select k, date, lag(x) over (partition by k order by date), row_number() over (partition by k order by date) from t",
        ] {
            let p = plan(&keyed, sql).await;
            assert!(!p.contains("KeyedWindowExec"), "{sql}:\n{p}");
        }
    }
}
