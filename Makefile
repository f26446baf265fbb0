# Thin targets over cargo and the `exhibits` binary. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

AS_OF ?= 2024-12-31
DEMO  ?= data/demo
EXHIBITS := cargo run --quiet --bin exhibits --

.PHONY: help build run demo-data test test-sql test-sql-complete check lint fmt clean bench

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

build: ## Build the exhibits binary (dev profile)
	cargo build --bin exhibits

demo-data: $(DEMO)/manifest.json ## Generate the demo vendor drop (scale s) if it is not there

$(DEMO)/manifest.json:
	$(EXHIBITS) gen --scale s --out $(DEMO) > /dev/null

run: build demo-data ## Run the nightly pipeline on the demo data into ./var (AS_OF=2024-12-31)
	$(EXHIBITS) run --pipeline pipelines/nightly.toml --as-of $(AS_OF)
	@echo
	@echo "Published (Parquet, Hive partitions as_of=$(AS_OF)):"
	@find var/publish -name '*.parquet' -path '*as_of=$(AS_OF)*' | sort | sed 's/^/  /'
	@echo "  var/publish/manifests/as_of=$(AS_OF).json   (datasets, rows, sha256, schemas, inputs)"
	@echo "  var/publish/latest.json                    (the last complete run)"
	@echo "Lake: var/lake (typed Parquet, quarantine, ledger, raw archive). See README.md to open the outputs."

test: ## Run every test (unit, SQL models, golden real data, CLI)
	cargo test --workspace --no-fail-fast

check: ## Plan every model, contract and data test without data; validate the pipelines
	$(EXHIBITS) check

test-sql: ## Run the SQL tests (tests/sql/*.slt) against the real model files
	$(EXHIBITS) test

test-sql-complete: ## Rewrite the expected output of the SQL tests from the current results (review the diff)
	$(EXHIBITS) test --complete
	@git --no-pager diff --stat -- tests/sql || true

bench: ## Benchmark workload vs DuckDB, polars, pandas (SCALE=s|m|l, REPS=3; release build, ~/.cache/exhibits/bench)
	SCALE=$(or $(SCALE),s) REPS=$(or $(REPS),3) scripts/bench

lint: ## rustfmt check and clippy with warnings as errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt: ## Format the code
	cargo fmt --all

clean: ## Remove build output, demo data and local runs
	cargo clean
	rm -rf var $(DEMO)
