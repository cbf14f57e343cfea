//! `fieldbook-server`: parse the command line (every flag also an environment variable),
//! set up logging, call the library.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use fieldbook_server::storage::{PersonKind, ReviewStatus, Role};
use fieldbook_server::{Config, Database, admin, handoff, review, state_for};

/// Fieldbook's sync server and its administration.
#[derive(Debug, Parser)]
#[command(name = "fieldbook-server", version)]
struct Cli {
    /// Data directory (holds fieldbook.db unless --db says otherwise).
    #[arg(
        long,
        global = true,
        env = "FIELDBOOK_DATA",
        default_value = "fieldbook-data"
    )]
    data: PathBuf,
    /// The database: a SQLite file (default: DATA/fieldbook.db), or a `postgres://` URL
    /// for a PostgreSQL database several instances share.
    #[arg(long, global = true, env = "FIELDBOOK_DB")]
    db: Option<String>,
    /// Log format on stderr: `auto` is coloured on a terminal and plain otherwise, `json`
    /// one JSON object per line (for log collectors). The level comes from RUST_LOG.
    #[arg(
        long,
        global = true,
        env = "FIELDBOOK_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Auto
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
    },
    /// Serve a demo company: seeds reps, a manager, territories and a few hundred
    /// cards on first start, prints enrolment tokens, then serves.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// Cards per territory on first start.
        #[arg(long, env = "FIELDBOOK_DEMO_CARDS", default_value_t = 100)]
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
    /// Set a manager's dashboard password, read from standard input (one line).
    SetPassword {
        /// The person.
        #[arg(long)]
        person: String,
    },
    /// Print a one-time dashboard login link for a manager (valid 15 minutes).
    LoginLink {
        /// The person.
        #[arg(long)]
        person: String,
        /// The server's address as the manager's browser reaches it.
        #[arg(
            long,
            env = "FIELDBOOK_PUBLIC_URL",
            default_value = "http://127.0.0.1:8787"
        )]
        url: String,
    },
    /// Hand a territory (or chosen cards of it) from one rep to another, as a manager.
    /// Prints what moved (or, with --preview, what would) as JSON.
    Handoff(HandoffArgs),
    /// The review queue of late edits refused past the handoff grace period.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Move the company from its SQLite file (--db or DATA/fieldbook.db) to PostgreSQL:
    /// an exact copy in one transaction (device cursors stay valid), verified by
    /// comparing every card's heads; safe to run again. Stop the SQLite server first.
    MoveToPostgres {
        /// The PostgreSQL database (`postgres://…`).
        #[arg(long, env = "FIELDBOOK_MOVE_TO")]
        to: String,
    },
    /// Mark a rep as gone: nothing can be handed to them any more.
    DeactivateRep {
        /// The rep.
        rep: String,
    },
}

#[derive(Debug, Args)]
struct HandoffArgs {
    /// The territory handed over, or whose cards move.
    #[arg(long)]
    territory: String,
    /// Its current owner (refused if someone else holds it by now).
    #[arg(long)]
    from: String,
    /// The receiving rep.
    #[arg(long)]
    to: String,
    /// Only these cards (comma-separated ids), moved into --into.
    #[arg(long, value_delimiter = ',', requires = "into")]
    cards: Option<Vec<String>>,
    /// The territory the cards move into (held by --to).
    #[arg(long, requires = "cards")]
    into: Option<String>,
    /// Why (kept in the assignment history).
    #[arg(long)]
    reason: String,
    /// The manager deciding it.
    #[arg(long)]
    by: String,
    /// Only say what would move.
    #[arg(long)]
    preview: bool,
}

#[derive(Debug, Subcommand)]
enum ReviewCommand {
    /// List review items (JSON).
    List {
        /// The manager looking.
        #[arg(long)]
        by: String,
        /// pending, accepted or discarded (default: all).
        #[arg(long)]
        status: Option<String>,
        /// The page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
    /// Merge an item's edits into the card, attributed to their author.
    Accept {
        /// The item id.
        id: u64,
        /// The manager deciding.
        #[arg(long)]
        by: String,
    },
    /// Discard an item (recorded; its bytes are kept).
    Discard {
        /// The item id.
        id: u64,
        /// The manager deciding.
        #[arg(long)]
        by: String,
        /// Why.
        #[arg(long)]
        note: Option<String>,
    },
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    /// Coloured on a terminal, plain text otherwise.
    Auto,
    /// Plain text, never colour codes.
    Plain,
    /// One JSON object per line.
    Json,
}

/// The settings of a serving process: every field of [`Config`] and the listen address.
/// Durations are whole seconds.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "FIELDBOOK_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Largest request body, in bytes, as sent (compressed); above it: 413.
    #[arg(long, env = "FIELDBOOK_MAX_BODY_BYTES", default_value_t = Config::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest sync body once decompressed, in bytes.
    #[arg(long, env = "FIELDBOOK_MAX_DECOMPRESSED_BYTES", default_value_t = Config::default().max_decompressed_bytes)]
    max_decompressed_bytes: usize,
    /// Most request body bytes held in memory at once over all requests.
    #[arg(long, env = "FIELDBOOK_MAX_INFLIGHT_BODY_BYTES", default_value_t = Config::default().max_inflight_body_bytes)]
    max_inflight_body_bytes: usize,
    /// Most card pushes in one sync request.
    #[arg(long, env = "FIELDBOOK_MAX_PUSHES_PER_REQUEST", default_value_t = Config::default().max_pushes_per_request)]
    max_pushes_per_request: usize,
    /// A request (body included) taking longer is answered 408.
    #[arg(long, env = "FIELDBOOK_REQUEST_TIMEOUT_SECS", default_value_t = Config::default().request_timeout.as_secs())]
    request_timeout_secs: u64,
    /// A connection that sends no complete request head this long after opening, or
    /// after its previous response (keep-alive idle), is closed.
    #[arg(long, env = "FIELDBOOK_HEADER_READ_TIMEOUT_SECS", default_value_t = Config::default().header_read_timeout.as_secs())]
    header_read_timeout_secs: u64,
    /// Most TCP connections open at once; more wait in the listen backlog.
    #[arg(long, env = "FIELDBOOK_MAX_CONNECTIONS", default_value_t = Config::default().max_connections)]
    max_connections: usize,
    /// How long a shutdown (SIGTERM, Ctrl-C) waits for open requests to finish.
    #[arg(long, env = "FIELDBOOK_SHUTDOWN_GRACE_SECS", default_value_t = Config::default().shutdown_grace.as_secs())]
    shutdown_grace_secs: u64,
    /// Response budget, in bytes, when the device names none.
    #[arg(long, env = "FIELDBOOK_DEFAULT_RESPONSE_BYTES", default_value_t = Config::default().default_response_bytes)]
    default_response_bytes: u32,
    /// Largest response budget granted to a device, in bytes.
    #[arg(long, env = "FIELDBOOK_MAX_RESPONSE_BYTES", default_value_t = Config::default().max_response_bytes)]
    max_response_bytes: u32,
    /// Lifetime of device tokens, in seconds (default: until revoked).
    #[arg(long, env = "FIELDBOOK_DEVICE_TOKEN_TTL_SECS")]
    device_token_ttl_secs: Option<i64>,
    /// How long after a handoff the previous owner's late edits are still accepted.
    #[arg(long, env = "FIELDBOOK_HANDOFF_GRACE_SECS", default_value_t = Config::default().handoff_grace_secs)]
    handoff_grace_secs: i64,
    /// Most pending review items (late edits past the grace period) per device.
    #[arg(long, env = "FIELDBOOK_REVIEW_MAX_ITEMS_PER_DEVICE", default_value_t = Config::default().review_max_items_per_device)]
    review_max_items_per_device: u64,
    /// Most bytes of one device's pending review items.
    #[arg(long, env = "FIELDBOOK_REVIEW_MAX_BYTES_PER_DEVICE", default_value_t = Config::default().review_max_bytes_per_device)]
    review_max_bytes_per_device: u64,
    /// Loaded card documents kept in memory (about 25 KiB each); 0: none.
    #[arg(long, env = "FIELDBOOK_DOC_CACHE_CARDS", default_value_t = Config::default().doc_cache_cards)]
    doc_cache_cards: usize,
    /// Requests that may run storage and Automerge work at once (default: twice the
    /// cores, at least 4).
    #[arg(long, env = "FIELDBOOK_WORK_SLOTS", default_value_t = Config::default().max_concurrent_work)]
    work_slots: usize,
    /// Mark the dashboard's session cookie `Secure` (when served over https).
    #[arg(long, env = "FIELDBOOK_WEB_SECURE_COOKIES")]
    web_secure_cookies: bool,
    /// Print the effective settings and exit without serving.
    #[arg(long)]
    print_config: bool,
}

impl ServeArgs {
    /// The library's configuration these settings describe.
    fn config(&self) -> Config {
        Config {
            max_body_bytes: self.max_body_bytes,
            max_decompressed_bytes: self.max_decompressed_bytes,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            default_response_bytes: self.default_response_bytes,
            max_response_bytes: self.max_response_bytes,
            device_token_ttl_secs: self.device_token_ttl_secs,
            handoff_grace_secs: self.handoff_grace_secs,
            review_max_items_per_device: self.review_max_items_per_device,
            review_max_bytes_per_device: self.review_max_bytes_per_device,
            doc_cache_cards: self.doc_cache_cards,
            max_concurrent_work: self.work_slots,
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            max_inflight_body_bytes: self.max_inflight_body_bytes,
            max_pushes_per_request: self.max_pushes_per_request,
            shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
            web_secure_cookies: self.web_secure_cookies,
        }
    }
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
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error [{}]: {}", e.code(), e);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; colour codes only on a terminal (a log file must stay greppable).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Plain => builder.with_ansi(false).init(),
        LogFormat::Auto => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

fn run(cli: Cli) -> fieldbook_server::Result<()> {
    match &cli.command {
        Command::Serve { serve } | Command::Demo { serve, .. } if serve.print_config => {
            println!("listen: {}\n{:#?}", serve.listen, serve.config());
            return Ok(());
        }
        _ => {}
    }
    std::fs::create_dir_all(&cli.data)
        .map_err(|e| fieldbook_server::Error::Internal(format!("data directory: {e}")))?;
    let db = match &cli.db {
        Some(arg) => Database::parse(arg),
        None => Database::Sqlite(cli.data.join("fieldbook.db")),
    };
    match cli.command {
        Command::Serve { serve: args } => {
            let state = state_for(&db, args.config())?;
            return serve(state, args.listen);
        }
        Command::Demo { serve: args, cards } => {
            let listen = args.listen;
            let state = state_for(&db, args.config())?;
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
    if let Command::MoveToPostgres { to } = &cli.command {
        return move_to_postgres(&db, to);
    }
    let storage = db.open()?;
    let storage = &*storage;
    match cli.command {
        Command::Serve { .. } | Command::Demo { .. } | Command::MoveToPostgres { .. } => Ok(()),
        Command::Rep {
            command: PersonCommand::Add { id, name },
        } => admin::add_person(storage, &id, &name, PersonKind::Rep),
        Command::Manager {
            command: PersonCommand::Add { id, name },
        } => admin::add_person(storage, &id, &name, PersonKind::Manager),
        Command::Territory {
            command: TerritoryCommand::Add { id, name, manager },
        } => admin::add_territory(storage, &id, &name, manager.as_deref()),
        Command::Territory {
            command: TerritoryCommand::Assign { territory, rep },
        } => admin::assign_territory(storage, &territory, &rep).map(|_| ()),
        Command::Device {
            command: DeviceCommand::Enrol { person, role, name },
        } => {
            let role = Role::parse(&role)?;
            let enrolment = admin::enrol_device(storage, &person, role, &name)?;
            println!("{}", enrolment.token);
            eprintln!("one-time enrolment token (shown once; valid for 7 days)");
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Revoke { device },
        } => admin::revoke_device(storage, &device),
        Command::SetPassword { person } => {
            let password = read_password_line()?;
            let now = fieldbook_server::auth::now();
            fieldbook_server::web::account::set_password(storage, &person, &password, now)?;
            eprintln!("dashboard password set for {person}; their open sessions ended");
            Ok(())
        }
        Command::LoginLink { person, url } => {
            let now = fieldbook_server::auth::now();
            let token = fieldbook_server::web::account::login_link(storage, &person, now)?;
            println!("{}", fieldbook_server::web::login_link_url(&url, &token));
            eprintln!("one-time dashboard login link (shown once; valid for 15 minutes)");
            Ok(())
        }
        Command::Handoff(args) => {
            let viewer = handoff::manager_viewer(storage, &args.by)?;
            let request = handoff::HandoffRequest {
                territory: args.territory,
                from: args.from,
                to: args.to,
                cards: args.cards,
                target_territory: args.into,
                reason: args.reason,
            };
            let now = fieldbook_server::auth::now();
            if args.preview {
                print_json(&handoff::preview(storage, &viewer, &request, now)?)
            } else {
                let docs = fieldbook_server::cache::DocCache::new(0);
                print_json(&handoff::execute(storage, &docs, &viewer, &request, now)?)
            }
        }
        Command::Review { command } => {
            let now = fieldbook_server::auth::now();
            match command {
                ReviewCommand::List { by, status, page } => {
                    let viewer = handoff::manager_viewer(storage, &by)?;
                    let query = review::ReviewQuery {
                        status: status.as_deref().map(ReviewStatus::parse).transpose()?,
                        page: Some(page),
                        per_page: None,
                    };
                    print_json(&review::list(storage, &viewer, &query)?)
                }
                ReviewCommand::Accept { id, by } => {
                    let viewer = handoff::manager_viewer(storage, &by)?;
                    let docs = fieldbook_server::cache::DocCache::new(0);
                    print_json(&review::accept(storage, &docs, &viewer, id, now)?)
                }
                ReviewCommand::Discard { id, by, note } => {
                    let viewer = handoff::manager_viewer(storage, &by)?;
                    print_json(&review::discard(
                        storage,
                        &viewer,
                        id,
                        note.as_deref(),
                        now,
                    )?)
                }
            }
        }
        Command::DeactivateRep { rep } => admin::deactivate_rep(storage, &rep),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> fieldbook_server::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| fieldbook_server::Error::Internal(e.to_string()))?;
    println!("{text}");
    Ok(())
}

/// One line of standard input, without its line ending: the password never appears in
/// the process list or the shell history.
fn read_password_line() -> fieldbook_server::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| fieldbook_server::Error::Invalid(format!("reading the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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

#[cfg(feature = "postgres")]
fn move_to_postgres(db: &Database, to: &str) -> fieldbook_server::Result<()> {
    use fieldbook_server::storage::postgres::{PgStorage, import};
    let Database::Sqlite(path) = db else {
        return Err(fieldbook_server::Error::Invalid(
            "the source must be a SQLite file (--db path)".into(),
        ));
    };
    let target = PgStorage::connect(to)?;
    let report = import::move_to_postgres(path, &target)?;
    eprintln!(
        "moved {} cards to {}; every card's heads verified",
        report.cards_verified,
        Database::Postgres(to.to_owned()).describe()
    );
    print_json(&report)
}

#[cfg(not(feature = "postgres"))]
fn move_to_postgres(_: &Database, _: &str) -> fieldbook_server::Result<()> {
    Err(fieldbook_server::Error::Storage(
        "this server was built without PostgreSQL support (feature `postgres`)".into(),
    ))
}

/// `s` padded with spaces to `width` terminal columns: a Chinese character takes
/// two, so `format!("{:<28}")` (which counts chars) would misalign the table.
fn pad_to_width(s: &str, width: usize) -> String {
    let pad = width.saturating_sub(unicode_width::UnicodeWidthStr::width(s));
    format!("{s}{}", " ".repeat(pad))
}

/// Tell the person who just started the demo how to connect a device.
fn print_demo_welcome(
    storage: &dyn fieldbook_server::storage::Storage,
    db: &Database,
    listen: SocketAddr,
) -> fieldbook_server::Result<()> {
    let tokens = fieldbook_server::demo::enrolment_tokens(storage)?;
    let url = format!("http://{listen}");
    println!("Fieldbook demo server on {url} (data: {})", db.describe());
    println!();
    println!("One-time enrolment tokens (new ones are printed at every start):");
    for (who, _, token) in &tokens {
        println!("  {} {token}", pad_to_width(who, 28));
    }
    let link = fieldbook_server::demo::dashboard_login(storage, fieldbook_server::auth::now())?;
    println!();
    println!("The manager's dashboard, in a browser: {url}/login");
    println!(
        "  account {}, password {}",
        fieldbook_server::demo::MANAGER.0,
        fieldbook_server::demo::MANAGER_PASSWORD
    );
    println!(
        "  or this one-time link (15 minutes): {}",
        fieldbook_server::web::login_link_url(&url, &link)
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_table_pads_chinese_names_by_display_width() {
        let rows = ["张伟 (zhangwei, rep)", "王经理 (wangjl, manager)", "admin"];
        let padded: Vec<String> = rows.iter().map(|r| pad_to_width(r, 28)).collect();
        for p in &padded {
            assert_eq!(
                unicode_width::UnicodeWidthStr::width(p.as_str()),
                28,
                "{p:?}"
            );
        }
        // 张伟 is two characters but four columns: two fewer spaces than chars would give.
        assert_eq!(padded[0].chars().count(), 26);
        // Wider than the column: left as it is, never cut.
        assert_eq!(
            pad_to_width("很长的名字很长的名字很长的名字很长的名字", 28)
                .chars()
                .count(),
            20
        );
    }

    fn serve_args(argv: &[&str]) -> ServeArgs {
        match Cli::try_parse_from(argv).expect("parses").command {
            Command::Serve { serve } => serve,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn every_config_field_is_a_flag() {
        let args = serve_args(&[
            "fieldbook-server",
            "serve",
            "--listen",
            "0.0.0.0:9000",
            "--max-body-bytes",
            "1000",
            "--max-decompressed-bytes",
            "2000",
            "--max-inflight-body-bytes",
            "3000",
            "--max-pushes-per-request",
            "40",
            "--request-timeout-secs",
            "5",
            "--header-read-timeout-secs",
            "6",
            "--max-connections",
            "70",
            "--shutdown-grace-secs",
            "8",
            "--default-response-bytes",
            "900",
            "--max-response-bytes",
            "901",
            "--device-token-ttl-secs",
            "3600",
            "--handoff-grace-secs",
            "60",
            "--review-max-items-per-device",
            "12",
            "--review-max-bytes-per-device",
            "13000",
            "--doc-cache-cards",
            "11",
            "--work-slots",
            "3",
            "--web-secure-cookies",
        ]);
        assert_eq!(args.listen, "0.0.0.0:9000".parse().expect("addr"));
        let c = args.config();
        assert_eq!(c.max_body_bytes, 1000);
        assert_eq!(c.max_decompressed_bytes, 2000);
        assert_eq!(c.max_inflight_body_bytes, 3000);
        assert_eq!(c.max_pushes_per_request, 40);
        assert_eq!(c.request_timeout, Duration::from_secs(5));
        assert_eq!(c.header_read_timeout, Duration::from_secs(6));
        assert_eq!(c.max_connections, 70);
        assert_eq!(c.shutdown_grace, Duration::from_secs(8));
        assert_eq!(c.default_response_bytes, 900);
        assert_eq!(c.max_response_bytes, 901);
        assert_eq!(c.device_token_ttl_secs, Some(3600));
        assert_eq!(c.handoff_grace_secs, 60);
        assert_eq!(c.review_max_items_per_device, 12);
        assert_eq!(c.review_max_bytes_per_device, 13000);
        assert_eq!(c.doc_cache_cards, 11);
        assert_eq!(c.max_concurrent_work, 3);
        assert!(c.web_secure_cookies);
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        let c = serve_args(&["fieldbook-server", "serve"]).config();
        let d = Config::default();
        assert_eq!(format!("{c:?}"), format!("{d:?}"));
    }

    #[test]
    fn log_format_is_parsed_and_checked() {
        let cli = Cli::try_parse_from(["fieldbook-server", "--log-format", "json", "serve"])
            .expect("parses");
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["fieldbook-server", "--log-format", "xml", "serve"]).is_err());
        assert!(
            Cli::try_parse_from(["fieldbook-server", "serve", "--max-connections", "many"])
                .is_err()
        );
    }

    #[test]
    fn every_config_flag_has_an_environment_variable() {
        use clap::CommandFactory;
        let cli = Cli::command();
        let serve = cli.find_subcommand("serve").expect("serve");
        for arg in serve.get_arguments() {
            let id = arg.get_id().as_str();
            if ["print_config", "help"].contains(&id) {
                continue;
            }
            let env = arg.get_env().unwrap_or_else(|| panic!("--{id} has no env"));
            assert_eq!(
                env.to_str().expect("ascii"),
                format!("FIELDBOOK_{}", id.to_uppercase()),
                "--{id}"
            );
        }
    }
}
