//! `amazon-emulator`: runs the emulator on 127.0.0.1 (see the crate README).

use std::io::Write;
use std::path::PathBuf;

use amazon_emulator::{Config, Emulator, serve};
use clap::Parser;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A strict local emulator of the Amazon Ads APIs, for tests and the demo.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port to listen on; 0 picks a free one (printed on stdout).
    #[arg(long, default_value_t = 9797)]
    port: u16,
    /// Address to bind; loopback unless you mean otherwise.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// A JSON configuration (clients, refresh tokens, auth codes, advertisers); the
    /// built-in demo configuration otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Access-token lifetime in seconds (overrides the configuration).
    #[arg(long)]
    token_ttl: Option<u64>,
    /// Fix the clock used for event-time windows (RFC 3339).
    #[arg(long)]
    now: Option<String>,
    /// Print the configuration in use as JSON and exit.
    #[arg(long)]
    print_config: bool,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut config = match &args.config {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => Config::default(),
    };
    if let Some(ttl) = args.token_ttl {
        config.token_ttl_secs = ttl;
    }
    if args.print_config {
        println!("{}", serde_json::to_string_pretty(&config)?);
        return Ok(());
    }
    let now = args
        .now
        .as_deref()
        .map(|s| OffsetDateTime::parse(s, &Rfc3339))
        .transpose()?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    let addr = listener.local_addr()?;
    println!("amazon-emulator listening on http://{addr}");
    std::io::stdout().flush()?;
    serve(listener, Emulator::new(config, now)).await?;
    Ok(())
}
