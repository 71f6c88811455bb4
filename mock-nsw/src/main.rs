//! Command-line entry point of mock-nsw.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use mock_nsw::gen;

#[derive(Parser)]
#[command(name = "mock-nsw", version, about = "A simulator of the NSW side of the TISI permit gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate reference-data CSV files (spec §7) for a given scale, deterministic per seed.
    GenData {
        /// Output directory (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Number of licences.
        #[arg(long, default_value_t = 1000)]
        licences: usize,
        /// Seed of the generator: the same seed gives byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The day the data is made for (YYYY-MM-DD); default: today (UTC).
        #[arg(long)]
        today: Option<String>,
    },
}

fn parse_today(s: Option<&str>) -> anyhow::Result<NaiveDate> {
    match s {
        Some(s) => nsw_gateway::domain::parse_date(s).with_context(|| format!("--today {s}")),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::GenData {
            out,
            licences,
            seed,
            today,
        } => {
            let started = Instant::now();
            let cfg = gen::GenConfig {
                licences,
                seed,
                today: parse_today(today.as_deref())?,
            };
            let model = gen::Model::generate(&cfg);
            let written = gen::write_csv(&model, &out)?;
            eprintln!(
                "wrote {} standards, {} licences, {} labs, {} special purposes to {} in {:.2?}",
                written.standards,
                written.licences,
                written.labs,
                written.special_purposes,
                out.display(),
                started.elapsed()
            );
            Ok(())
        }
    }
}
