#!/usr/bin/env python3
"""Reads what `exhibits` published to a store with clients that share no code with it.

usage: store_check.py local ROOT
       store_check.py s3 ENDPOINT BUCKET PREFIX
       store_check.py az ENDPOINT CONTAINER PREFIX ACCOUNT KEY

Lists every key (boto3, the Azure SDK, or the file system), follows latest.json to its
manifest, checks that every listed file exists with the manifest's sha256 and how many parts it
was uploaded in (S3: the ETag's "-N" suffix; Azure: the committed block list), and reads each
dataset's partition with pyarrow and (local and S3) DuckDB, comparing row counts and column
types with the manifest. Prints one JSON line.
"""
import hashlib
import io
import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq

# Arrow type names as the manifest writes them -> what pyarrow and DuckDB call them.
PYARROW = {"Date32": "date32[day]", "Float64": "double", "Int64": "int64", "Int32": "int32",
           "Utf8": "string", "Boolean": "bool", "Binary": "binary"}
DUCKDB = {"Date32": "DATE", "Float64": "DOUBLE", "Int64": "BIGINT", "Int32": "INTEGER",
          "Utf8": "VARCHAR", "Boolean": "BOOLEAN", "Binary": "BLOB"}


def expected(table, data_type):
    if data_type.startswith("Timestamp"):
        return "timestamp[us, tz=UTC]" if table is PYARROW else "TIMESTAMP WITH TIME ZONE"
    return table.get(data_type, "?" + data_type)


class Local:
    def __init__(self, root):
        self.root = root

    def keys(self):
        return sorted(os.path.relpath(os.path.join(d, f), self.root).replace(os.sep, "/")
                      for d, _, fs in os.walk(self.root) for f in fs)

    def get(self, key):
        with open(os.path.join(self.root, key), "rb") as f:
            return f.read()

    def parts(self, key):
        return None

    def pyarrow(self, partition, keys):
        return pq.read_table(os.path.join(self.root, partition), partitioning=None)

    def duckdb_path(self, partition):
        return os.path.join(self.root, partition, "*.parquet")


class S3:
    def __init__(self, endpoint, bucket, prefix):
        import boto3
        import pyarrow.fs as pafs
        self.endpoint, self.bucket, self.prefix = endpoint, bucket, prefix
        self.s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="test",
                               aws_secret_access_key="test", region_name="us-east-1")
        self.fs = pafs.S3FileSystem(endpoint_override=endpoint.removeprefix("http://"), scheme="http",
                                    access_key="test", secret_key="test", region="us-east-1")

    def keys(self):
        found, token = [], {}
        while True:
            page = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "/", **token)
            found += [o["Key"].removeprefix(self.prefix + "/") for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return sorted(found)
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def get(self, key):
        return self.s3.get_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["Body"].read()

    def parts(self, key):
        etag = self.s3.head_object(Bucket=self.bucket, Key=f"{self.prefix}/{key}")["ETag"].strip('"')
        return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1

    def pyarrow(self, partition, keys):
        return pq.read_table(f"{self.bucket}/{self.prefix}/{partition}", filesystem=self.fs, partitioning=None)

    def duckdb_path(self, partition):
        return f"s3://{self.bucket}/{self.prefix}/{partition}/*.parquet"

    def duckdb_setup(self, con):
        # The httpfs extension comes from PyPI (duckdb-ext-httpfs): nothing is downloaded.
        import duckdb_ext
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET extension_directory = ?", [os.path.join(list(duckdb_ext.__path__)[0], "extensions")])
        con.execute("LOAD httpfs")
        con.execute(f"""CREATE SECRET (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1',
                        ENDPOINT '{self.endpoint.removeprefix("http://")}', URL_STYLE 'path', USE_SSL false)""")


class Azure:
    def __init__(self, endpoint, container, prefix, account, key):
        from azure.storage.blob import BlobServiceClient
        svc = BlobServiceClient.from_connection_string(
            f"DefaultEndpointsProtocol=http;AccountName={account};AccountKey={key};"
            f"BlobEndpoint={endpoint}/{account};")
        self.c, self.prefix = svc.get_container_client(container), prefix

    def keys(self):
        return sorted(b.name.removeprefix(self.prefix + "/") for b in self.c.list_blobs(name_starts_with=self.prefix + "/"))

    def get(self, key):
        return self.c.download_blob(f"{self.prefix}/{key}").readall()

    def parts(self, key):
        committed, _ = self.c.get_blob_client(f"{self.prefix}/{key}").get_block_list("committed")
        return max(1, len(committed))

    def pyarrow(self, partition, keys):
        # pyarrow has no Azure Blob file system of its own here: read each blob of the partition.
        tables = [pq.read_table(io.BytesIO(self.get(k))) for k in keys if k.startswith(partition + "/")]
        return pa.concat_tables(tables)

    duckdb_path = None


def main():
    kind, args = sys.argv[1], sys.argv[2:]
    store = {"local": Local, "s3": S3, "az": Azure}[kind](*args)
    keys = store.keys()
    out = {"keys": keys, "latest": None}
    if "latest.json" not in keys:
        print(json.dumps(out), flush=True)
        return
    latest = json.loads(store.get("latest.json"))
    manifest = json.loads(store.get(latest["manifest"]))
    out["latest"] = latest
    out["datasets"] = {}
    con = None
    if store.duckdb_path is not None:
        import duckdb
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        if hasattr(store, "duckdb_setup"):
            store.duckdb_setup(con)
    for d in manifest["datasets"]:
        file = d["files"][0]
        partition = file.rsplit("/", 1)[0]
        body = store.get(file) if file in keys else b""
        seen = {"listed": file in keys, "sha_ok": hashlib.sha256(body).hexdigest() == d["sha256"],
                "rows": d["rows"], "bytes": d["bytes"], "parts": store.parts(file) if file in keys else None, "problems": []}
        table = store.pyarrow(partition, keys)
        if table.num_rows != d["rows"]:
            seen["problems"].append(f"pyarrow reads {table.num_rows} rows, the manifest says {d['rows']}")
        for c in d["schema"]:
            got = str(table.schema.field(c["name"]).type)
            if got != expected(PYARROW, c["data_type"]):
                seen["problems"].append(f"pyarrow {c['name']}: {got} for {c['data_type']}")
        if con is not None:
            path = store.duckdb_path(partition)
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{path}', hive_partitioning=false)").fetchone()[0]
            if rows != d["rows"]:
                seen["problems"].append(f"duckdb reads {rows} rows, the manifest says {d['rows']}")
            described = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}', hive_partitioning=false)")
            types = {r[0]: r[1] for r in described.fetchall()}
            for c in d["schema"]:
                if types.get(c["name"]) != expected(DUCKDB, c["data_type"]):
                    seen["problems"].append(f"duckdb {c['name']}: {types.get(c['name'])} for {c['data_type']}")
        out["datasets"][d["name"]] = seen
    out["readers"] = ["pyarrow"] + (["duckdb"] if con is not None else [])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
    # pyarrow sometimes aborts in its own teardown at interpreter exit ("terminate called
    # without an active exception", seen after Azure SDK reads); the result is out, so leave now.
    sys.stdout.flush()
    os._exit(0)
