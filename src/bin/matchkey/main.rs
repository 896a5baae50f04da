//! `matchkey`: the core's normalizer for files, for bulk audience and AMC uploads.
//!
//! `hash`, `hash-csv` and `amc prepare` stay offline: they read stdin or files and write
//! stdout or files. `audience push`, `amc upload` and `dsp` talk to Amazon (`client`);
//! `connect` obtains the refresh token they use (or hands it to a Worker), `doctor`
//! checks a deployed Worker (`worker`). Summaries,
//! progress and errors go to stderr without any input value.

mod amc;
mod audience;
mod client;
mod connect;
mod dsp;
mod hash;
mod hash_csv;
mod journal;
mod parallel;
mod publish;
mod reader;
mod worker;

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
    /// Amazon audiences from member files.
    #[command(subcommand)]
    Audience(AudienceCommand),
    /// Connect an Amazon Ads account: authorize in the browser (Login with Amazon, PKCE),
    /// list what the grant reaches, and keep the refresh token in .dev.vars.
    #[command(after_help = connect::EXAMPLES)]
    Connect(connect::ConnectArgs),
    /// Check a deployed Worker: what a production deployment still needs, with fixes.
    #[command(after_help = worker::DOCTOR_EXAMPLES)]
    Doctor(worker::DoctorArgs),
    /// Amazon DSP trafficking: list campaigns, import ad groups as placements, publish tags.
    #[command(subcommand)]
    Dsp(DspCommand),
}

#[derive(Debug, Subcommand)]
enum DspCommand {
    /// The advertiser's campaigns with state and dates.
    #[command(after_help = format!("{}\n\n{}", dsp::CAMPAIGNS_EXAMPLES, client::CREDENTIALS_HELP))]
    Campaigns(dsp::CampaignsArgs),
    /// Import the ad groups of campaigns into a placements CSV (refreshed in place).
    #[command(after_help = format!("{}\n\n{}", dsp::IMPORT_EXAMPLES, client::CREDENTIALS_HELP))]
    Import(dsp::ImportArgs),
    /// Publish third-party tags (a CSV file) as creatives under their ad groups, and
    /// report their moderation. Idempotent through a journal beside the file.
    #[command(after_help = format!("{}\n\n{}", publish::EXAMPLES, client::CREDENTIALS_HELP))]
    Publish(publish::PublishArgs),
}

#[derive(Debug, Subcommand)]
enum AudienceCommand {
    /// Add (or with --remove, remove) the members of a CSV file to an Amazon audience.
    #[command(after_help = format!("{}\n\n{}", audience::EXAMPLES, client::CREDENTIALS_HELP))]
    Push(audience::PushArgs),
}

#[derive(Debug, Subcommand)]
enum AmcCommand {
    /// Write the hashed upload file and its dataset definition.
    #[command(after_help = amc::EXAMPLES)]
    Prepare(amc::PrepareArgs),
    /// Create the dataset if need be and load a file already in S3 into it.
    #[command(after_help = format!("{}\n\n{}", amc::UPLOAD_EXAMPLES, client::CREDENTIALS_HELP))]
    Upload(amc::UploadArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let res = match cli.command {
        Command::Hash => {
            hash::run(std::io::stdin().lock(), std::io::stdout().lock()).map(|()| true)
        }
        Command::HashCsv(args) => hash_csv::run(&args).map(|()| true),
        Command::Amc(AmcCommand::Prepare(args)) => amc::prepare(&args).map(|()| true),
        Command::Amc(AmcCommand::Upload(args)) => amc::upload(&args),
        Command::Audience(AudienceCommand::Push(args)) => audience::push(&args),
        Command::Connect(args) => connect::run(&args),
        Command::Doctor(args) => worker::doctor(&args),
        Command::Dsp(DspCommand::Campaigns(args)) => dsp::campaigns(&args),
        Command::Dsp(DspCommand::Import(args)) => dsp::import(&args),
        Command::Dsp(DspCommand::Publish(args)) => publish::publish(&args),
    };
    match res {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("matchkey: some of the work was refused or failed; see the report");
            ExitCode::from(1)
        }
        // The input was read but cannot be used as it is (no row, too many bad rows).
        Err(err) if err.is::<reader::Refused>() => {
            eprintln!("matchkey: {err:#}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("matchkey: {err:#}");
            ExitCode::from(2)
        }
    }
}
