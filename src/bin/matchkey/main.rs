//! `matchkey`: the core's normalizer for files, for bulk audience and AMC uploads.
//!
//! Nothing here talks to the network; the commands read stdin and write stdout, and
//! summaries, progress and errors go to stderr without any input value.

mod amc;
mod hash;
mod hash_csv;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Normalize and SHA-256 hash personal data exactly as Amazon Ads expects.
#[derive(Debug, Parser)]
#[command(name = "matchkey", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Hash JSON lines: one `{"field","country","input"}` per line in, one result per line out.
    #[command(after_help = hash::EXAMPLES)]
    Hash,
    /// Hash the mapped columns of a CSV file (AMC advertiser-data-upload form).
    #[command(name = "hash-csv", after_help = hash_csv::EXAMPLES)]
    HashCsv(hash_csv::Args),
    /// Amazon Marketing Cloud advertiser data uploads.
    #[command(subcommand)]
    Amc(AmcCommand),
}

#[derive(Debug, Subcommand)]
enum AmcCommand {
    /// Write the hashed upload file and its dataset definition.
    #[command(after_help = amc::EXAMPLES)]
    Prepare(amc::PrepareArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Hash => hash::run(std::io::stdin().lock(), std::io::stdout().lock()),
        Command::HashCsv(args) => hash_csv::run(&args),
        Command::Amc(AmcCommand::Prepare(args)) => amc::prepare(&args),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("matchkey: {err:#}");
            ExitCode::from(2)
        }
    }
}
