//! `amazon-emulator`: serve the Amazon Ads API emulator on a local port.
//!
//! Prints exactly one line to stdout, `amazon-emulator listening on http://HOST:PORT`,
//! once the port is bound; everything else goes to stderr.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use amazon_emulator::{Config, Emulator};
use clap::Parser;

/// A strict local emulator of the Amazon Ads API, for tests and the demo.
#[derive(Debug, Parser)]
#[command(name = "amazon-emulator", version)]
struct Args {
    /// Port to listen on; 0 picks a free one (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Address to bind. Keep the default unless you know why.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Configuration file (.json or .toml); the built-in demo configuration otherwise.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Lifetime of issued access tokens in seconds (overrides the file).
    #[arg(long, value_name = "SECS")]
    token_ttl: Option<u64>,
    /// Fix the emulator's clock at this RFC 3339 instant (overrides the file).
    #[arg(long, value_name = "RFC3339")]
    now: Option<String>,
    /// Do not log one line per request on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("amazon-emulator: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut config = match &args.config {
        Some(path) => Config::from_file(path).map_err(|error| error.to_string())?,
        None => Config::demo(),
    };
    if let Some(ttl) = args.token_ttl {
        config.token_ttl_secs = ttl;
    }
    if let Some(now) = args.now {
        config.now = Some(now);
    }
    let mut emulator = Emulator::new(config).map_err(|error| format!("configuration: {error}"))?;
    if args.quiet {
        emulator = emulator.quiet();
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|error| format!("cannot bind {}:{}: {error}", args.host, args.port))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "amazon-emulator listening on http://{address}").map_err(|e| e.to_string())?;
    stdout.flush().map_err(|e| e.to_string())?;
    drop(stdout);
    tokio::select! {
        result = emulator.serve(listener) => result.map_err(|error| error.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
