//! A seeded sync server as a separate process, for the Kotlin and Python test suites
//! (tests/kotlin, tests/python): the real server on a real SQLite file, driven over a
//! line protocol on stdin so a test in another language can set the scene.
//!
//! `fieldbook-scenario-server DIR [CARDS_PER_TERRITORY]` seeds the demo company in
//! DIR (reps 张伟/east, 李娜/north, 陈杰/south, manager 王经理, `CARDS_PER_TERRITORY`
//! cards each, default 20), binds 127.0.0.1 on a free port, and prints one JSON line:
//! `{"url": …, "cards_per_territory": …}`. Then it serves and answers commands, one per
//! line, each with one JSON line:
//!
//! - `token PERSON ROLE NAME` → `{"token": "fbe_…"}`: a one-time enrolment token for a
//!   new device of PERSON (`rep`, `manager` or `admin`) named NAME.
//! - `assign TERRITORY REP` → `{"moved": N}`: hand the territory to REP.
//! - `card-in TERRITORY` → `{"card_id": …}`: a card of that territory.
//! - `setting SECTION.KEY NUMBER` → `{"revision": N}`: the manager (王经理) changes one
//!   company setting, through the same validation as the dashboard.
//!
//! An unknown command or a failure answers `{"error": "..."}`. The server stops when
//! stdin closes (the test process ended, however it ended).

use std::io::{BufRead, Write};

use fieldbook_server::admin;
use fieldbook_server::storage::Role;

fn answer(value: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// One company setting changed by the demo's manager.
fn set_one(
    storage: &dyn fieldbook_server::storage::Storage,
    path: &str,
    value: &str,
) -> Result<serde_json::Value, String> {
    let manager = fieldbook_server::viewer::Viewer {
        person_id: "wangjl".into(),
        role: Role::Manager,
    };
    let current =
        fieldbook_server::manager::settings_view(storage, &manager).map_err(|e| e.to_string())?;
    let mut settings = serde_json::to_value(&current.settings).map_err(|e| e.to_string())?;
    let (section, key) = path.split_once('.').ok_or("SECTION.KEY")?;
    let number: i64 = value.parse().map_err(|_| "a whole number".to_string())?;
    settings[section][key] = number.into();
    let update = fieldbook_server::manager::SettingsUpdate {
        revision: current.revision,
        settings,
    };
    let now = chrono::Utc::now().timestamp();
    fieldbook_server::manager::set_settings(storage, &manager, &update, now)
        .map(|v| serde_json::json!({ "revision": v.revision }))
        .map_err(|e| e.to_string())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: fieldbook-scenario-server DIR [CARDS_PER_TERRITORY]")?;
    let per_territory: u64 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(20);
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let state = fieldbook_server::state_for_sqlite(
        &dir.join("server.db"),
        fieldbook_server::Config::default(),
    )?;
    let today = chrono::Utc::now().date_naive();
    fieldbook_server::demo::seed(&*state.storage, per_territory, today)?;
    let storage = state.storage.clone();
    let server = fieldbook_server::spawn(state, "127.0.0.1:0".parse()?)?;
    answer(serde_json::json!({
        "url": format!("http://{}", server.addr),
        "cards_per_territory": per_territory,
    }));
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let result: Result<serde_json::Value, String> = match words.as_slice() {
            ["token", person, role, name] => Role::parse(role)
                .map_err(|e| e.to_string())
                .and_then(|role| {
                    admin::enrol_device(&*storage, person, role, name).map_err(|e| e.to_string())
                })
                .map(|e| serde_json::json!({ "token": e.token })),
            ["assign", territory, rep] => admin::assign_territory(&*storage, territory, rep)
                .map(|moved| serde_json::json!({ "moved": moved }))
                .map_err(|e| e.to_string()),
            ["card-in", territory] => storage
                .cards_in_territories(&[territory.to_string()])
                .map_err(|e| e.to_string())
                .and_then(|cards| {
                    cards
                        .into_iter()
                        .next()
                        .ok_or_else(|| "no card".to_string())
                })
                .map(|card| serde_json::json!({ "card_id": card.card_id })),
            ["setting", path, value] => set_one(&*storage, path, value),
            _ => Err(format!("unknown command: {line}")),
        };
        answer(result.unwrap_or_else(|e| serde_json::json!({ "error": e })));
    }
    drop(server);
    Ok(())
}
