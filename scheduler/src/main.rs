//! The `scheduler` binary: parses the command line and hands over to
//! [`scheduler::cli`].

use std::process::ExitCode;

use clap::Parser;
use scheduler::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.command {
        None | Some(Command::Serve) => "info",
        Some(_) => "warn",
    };
    scheduler::cli::init_logging(level);
    // One process-wide provider, so every rustls config agrees.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(scheduler::cli::main(cli))
}
