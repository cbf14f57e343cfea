//! `fieldbook`: a rep's device on the desktop, a thin command line over
//! `fieldbook-core`.
//!
//! `main` parses the arguments, sets up logging, runs the command and prints its
//! [`output::Output`] or its error. Exit status: 0 on success, 2 for bad input
//! (the error's code says which), 1 for any other failure.

mod args;
mod commands;
mod error;
mod output;

use clap::Parser;
use clap::error::ErrorKind;

use crate::args::Cli;
use crate::error::CliError;

fn init_tracing(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // RUST_LOG wins when set, so one module can be turned up on its own.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(verbosity > 1)
        .try_init();
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                std::process::exit(
                    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                        2
                    } else {
                        0
                    },
                );
            }
            // Usage errors follow the same contract as every other error.
            let json = std::env::args().any(|a| a == "--json");
            let message = e.render().to_string();
            let message = message.trim().trim_start_matches("error: ");
            // JSON gets clap's one-line complaint; people also get its usage hint.
            let message = if json {
                message.split("\n\n").next().unwrap_or(message)
            } else {
                message
            };
            let message = message.trim().to_string();
            let err = CliError::input("input.usage", message);
            output::print_error(&err, json);
            std::process::exit(err.exit_code());
        }
    };
    init_tracing(cli.verbose);
    let json = cli.json;
    match commands::run(cli) {
        Ok(out) => out.print(json),
        Err(e) => {
            tracing::debug!(code = e.code(), "command failed");
            output::print_error(&e, json);
            std::process::exit(e.exit_code());
        }
    }
}
