//! The sync server as a separate process, for tests that SIGKILL it.
//!
//! `fieldbook-test-server DB ADDR` serves DB (a SQLite file, or a `postgres://` URL) on
//! ADDR with the default configuration, exactly as `fieldbook-server serve` does, and
//! prints `listening` once it accepts connections.

use std::net::SocketAddr;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(db), Some(addr)) = (args.next(), args.next()) else {
        return Err("usage: fieldbook-test-server DB ADDR".into());
    };
    let addr: SocketAddr = addr.parse()?;
    let state = fieldbook_server::state_for(
        &fieldbook_server::Database::parse(&db),
        fieldbook_server::Config::default(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!("listening");
        fieldbook_server::run(listener, state, std::future::pending()).await
    })?;
    Ok(())
}
