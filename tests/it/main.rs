//! Workspace-level integration tests: they run the real `exhibits` binary as a user would, on
//! generated data and on the real public data in `../shared/data/real`.

mod bench;
mod cli_run;
mod corpus;
mod engine;
mod generator;
mod golden_real;
mod readers;
mod s3;
mod servers;
mod sql_workflow;
mod store_contract;
mod support;
