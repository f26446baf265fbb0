//! The Parquet profile for BI readers, and the `as_of` column every published file carries.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use bytes::Bytes;
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per row group: large enough for scans, small enough for readers' memory.
const ROW_GROUP_ROWS: usize = 1 << 20;

fn bi_type(dt: &DataType) -> DataType {
    match dt {
        // Nanosecond timestamps overflow in some readers and INT96 is deprecated.
        DataType::Timestamp(_, _) => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        DataType::Date64 => DataType::Date32,
        // View and large variants are engine-internal layouts; BI readers expect plain strings.
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        other => other.clone(),
    }
}

/// Prepends the `as_of` partition column (Date32, the same value on every row) and casts
/// columns to BI-friendly types.
pub fn with_as_of(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    as_of: NaiveDate,
) -> Result<(SchemaRef, Vec<RecordBatch>), ArrowError> {
    let days = exhibits_core::calendar::epoch_days(as_of);
    let mut fields = vec![Arc::new(Field::new("as_of", DataType::Date32, false))];
    fields.extend(
        schema
            .fields()
            .iter()
            .filter(|f| f.name() != "as_of")
            .map(|f| Arc::new(f.as_ref().clone().with_data_type(bi_type(f.data_type())))),
    );
    let out_schema = Arc::new(Schema::new(fields));
    let out = batches
        .iter()
        .map(|b| {
            let mut cols: Vec<ArrayRef> = vec![Arc::new(Date32Array::from(vec![days; b.num_rows()]))];
            for (i, f) in schema.fields().iter().enumerate() {
                if f.name() != "as_of" {
                    cols.push(cast(b.column(i), &bi_type(f.data_type()))?);
                }
            }
            RecordBatch::try_new(out_schema.clone(), cols)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((out_schema, out))
}

/// The metadata key of a dataset's description in the Arrow schema and the Parquet footer.
pub const METADATA_KEY: &str = "exhibits";

/// Encodes batches as one Parquet file with the BI profile, with `metadata` (JSON text) under
/// [`METADATA_KEY`] in the Arrow schema and the Parquet key-value metadata.
pub fn encode_parquet(schema: &SchemaRef, batches: &[RecordBatch], metadata: &str) -> Result<Bytes, ParquetError> {
    let schema = Arc::new(
        schema.as_ref().clone().with_metadata([(METADATA_KEY.to_string(), metadata.to_string())].into_iter().collect()),
    );
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(METADATA_KEY.to_string(), metadata.to_string())]))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema.clone(), Some(props))?;
    for b in batches {
        writer.write(&b.clone().with_schema(schema.clone())?)?;
    }
    writer.close()?;
    Ok(Bytes::from(buf))
}
