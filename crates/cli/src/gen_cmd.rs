//! `exhibits gen`: the synthetic vendor drop.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use exhibits_core::ExitStatus;
use exhibits_gen::{GenOptions, Scale};

use crate::failure::Failure;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScaleArg {
    /// 1 year, about 0.76 million constituent rows.
    S,
    /// 5 years, about 3.8 million rows.
    M,
    /// 25 years, about 19 million rows (1.15 GB of CSV).
    L,
}

#[derive(Args)]
pub(crate) struct GenArgs {
    /// How many years to generate.
    #[arg(long, value_enum, env = "EXHIBITS_GEN_SCALE")]
    scale: ScaleArg,
    /// Output folder (created if needed).
    #[arg(long, env = "EXHIBITS_GEN_OUT")]
    out: PathBuf,
    /// Random seed: the same seed always writes the same bytes.
    #[arg(long, default_value_t = 42, env = "EXHIBITS_GEN_SEED")]
    seed: u64,
    /// The last calendar year generated.
    #[arg(long, default_value_t = 2024, env = "EXHIBITS_GEN_END_YEAR")]
    end_year: i32,
}

pub(crate) fn run(args: GenArgs) -> Result<serde_json::Value, Failure> {
    let scale = match args.scale {
        ScaleArg::S => Scale::S,
        ScaleArg::M => Scale::M,
        ScaleArg::L => Scale::L,
    };
    let opts = GenOptions { out: args.out.clone(), years: scale.years(), end_year: args.end_year, seed: args.seed };
    tracing::info!(out = %args.out.display(), years = opts.years, seed = opts.seed, "generating");
    let summary = exhibits_gen::generate(&opts).map_err(|e| {
        let status = match e {
            exhibits_gen::GenError::Options(_) => ExitStatus::Usage,
            exhibits_gen::GenError::Write { .. } => ExitStatus::Transient,
        };
        Failure::new(status, e)
    })?;
    let mut v = serde_json::to_value(&summary).expect("summary serialises");
    v["out"] = args.out.display().to_string().into();
    Ok(v)
}
