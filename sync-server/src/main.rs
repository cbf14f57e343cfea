//! `fieldbook-server`: parse the command line, set up logging, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use fieldbook_server::storage::sqlite::SqliteStorage;
use fieldbook_server::storage::{PersonKind, Role};
use fieldbook_server::{Config, admin, state_for_sqlite};

/// Fieldbook's sync server and its administration.
#[derive(Debug, Parser)]
#[command(name = "fieldbook-server", version)]
struct Cli {
    /// Data directory (holds fieldbook.db unless --db says otherwise).
    #[arg(long, global = true, default_value = "fieldbook-data")]
    data: PathBuf,
    /// The SQLite database file (default: DATA/fieldbook.db).
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
    },
    /// Serve a demo company: seeds reps, a manager, territories and a few hundred
    /// cards on first start, prints enrolment tokens, then serves.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8787")]
        listen: SocketAddr,
        /// Cards per territory on first start.
        #[arg(long, default_value_t = 100)]
        cards: u64,
    },
    /// Reps.
    Rep {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Managers.
    Manager {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Territories.
    Territory {
        #[command(subcommand)]
        command: TerritoryCommand,
    },
    /// Devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PersonCommand {
    /// Add a person.
    Add {
        /// Stable id (also the Automerge author of their changes).
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum TerritoryCommand {
    /// Add a territory.
    Add {
        /// Stable id.
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Its manager.
        #[arg(long)]
        manager: Option<String>,
    },
    /// Give a territory to a rep (the previous owner loses it).
    Assign {
        /// The territory.
        territory: String,
        /// The rep.
        rep: String,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Create a one-time enrolment token for a new device (printed once).
    Enrol {
        /// The rep or manager the device belongs to.
        person: String,
        /// rep, manager or admin.
        #[arg(long, default_value = "rep")]
        role: String,
        /// The device's display name.
        #[arg(long)]
        name: String,
    },
    /// Revoke a device.
    Revoke {
        /// The device id.
        device: String,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {}", e.code(), e);
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> fieldbook_server::Result<()> {
    std::fs::create_dir_all(&cli.data)
        .map_err(|e| fieldbook_server::Error::Internal(format!("data directory: {e}")))?;
    let db = cli.db.unwrap_or_else(|| cli.data.join("fieldbook.db"));
    match cli.command {
        Command::Serve { listen } => {
            let state = state_for_sqlite(&db, Config::default())?;
            return serve(state, listen);
        }
        Command::Demo { listen, cards } => {
            let state = state_for_sqlite(&db, Config::default())?;
            let today = chrono::Utc::now().date_naive();
            let seeded = fieldbook_server::demo::seed(&*state.storage, cards, today)?;
            if seeded.cards > 0 {
                eprintln!(
                    "seeded the demo company: {} cards, {} changes",
                    seeded.cards, seeded.changes
                );
            }
            print_demo_welcome(&*state.storage, &db, listen)?;
            return serve(state, listen);
        }
        _ => {}
    }
    let storage = SqliteStorage::open(&db)?;
    match cli.command {
        Command::Serve { .. } | Command::Demo { .. } => Ok(()),
        Command::Rep {
            command: PersonCommand::Add { id, name },
        } => admin::add_person(&storage, &id, &name, PersonKind::Rep),
        Command::Manager {
            command: PersonCommand::Add { id, name },
        } => admin::add_person(&storage, &id, &name, PersonKind::Manager),
        Command::Territory {
            command: TerritoryCommand::Add { id, name, manager },
        } => admin::add_territory(&storage, &id, &name, manager.as_deref()),
        Command::Territory {
            command: TerritoryCommand::Assign { territory, rep },
        } => admin::assign_territory(&storage, &territory, &rep).map(|_| ()),
        Command::Device {
            command: DeviceCommand::Enrol { person, role, name },
        } => {
            let role = Role::parse(&role)?;
            let enrolment = admin::enrol_device(&storage, &person, role, &name)?;
            println!("{}", enrolment.token);
            eprintln!("one-time enrolment token (shown once; valid for 7 days)");
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Revoke { device },
        } => admin::revoke_device(&storage, &device),
    }
}

fn serve(state: fieldbook_server::AppState, listen: SocketAddr) -> fieldbook_server::Result<()> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| fieldbook_server::Error::Internal(e.to_string()))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| fieldbook_server::Error::Internal(format!("bind {listen}: {e}")))?;
        fieldbook_server::run(listener, state, shutdown_signal())
            .await
            .map_err(|e| fieldbook_server::Error::Internal(e.to_string()))
    })
}

/// Tell the person who just started the demo how to connect a device.
fn print_demo_welcome(
    storage: &dyn fieldbook_server::storage::Storage,
    db: &std::path::Path,
    listen: SocketAddr,
) -> fieldbook_server::Result<()> {
    let tokens = fieldbook_server::demo::enrolment_tokens(storage)?;
    let url = format!("http://{listen}");
    println!("Fieldbook demo server on {url} (data: {})", db.display());
    println!();
    println!("One-time enrolment tokens (new ones are printed at every start):");
    for (who, _, token) in &tokens {
        println!("  {who:<28} {token}");
    }
    if let Some((_, rep, token)) = tokens.first() {
        println!();
        println!("Enrol a phone for {rep} with the CLI and fetch its cards:");
        println!("  cargo run -p fieldbook-cli -- --store phone.db enrol {url} {token}");
        println!("  cargo run -p fieldbook-cli -- --store phone.db sync");
        println!("  cargo run -p fieldbook-cli -- --store phone.db list --sort due");
    }
    println!();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
