//! The demo company: what `fieldbook-server demo` serves on first start.
//!
//! Three reps with a territory each, a manager over all three, and a few hundred
//! customer cards in Chinese and English with a year of attributed history, built
//! by core's demo generator (the same card model the phones use) and logged through
//! [`crate::seed_cards`]. Seeding is idempotent: a database that already holds the
//! company is left as it is.

use chrono::NaiveDate;
use fieldbook_core::demo::{DemoAuthor, demo_document};
use fieldbook_core::guard::{BytesLimits, load_bounded};

use crate::admin;
use crate::error::{Error, Result};
use crate::storage::{PersonKind, Role, Storage};

/// The reps, their territories and the manager of the demo company.
pub const REPS: &[(&str, &str, &str, &str)] = &[
    ("zhangwei", "张伟", "east", "华东区"),
    ("lina", "李娜", "north", "华北区"),
    ("chenjie", "Chen Jie 陈杰", "south", "华南区"),
];
/// The demo manager.
pub const MANAGER: (&str, &str) = ("wangjl", "王经理");

/// What was seeded.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    /// Cards added (0 when the company already existed).
    pub cards: usize,
    /// Log entries added.
    pub changes: usize,
}

/// Seed the demo company unless it is already there.
pub fn seed(storage: &dyn Storage, cards_per_territory: u64, today: NaiveDate) -> Result<Seeded> {
    if storage.person(REPS[0].0)?.is_some() {
        return Ok(Seeded::default());
    }
    admin::add_person(storage, MANAGER.0, MANAGER.1, PersonKind::Manager)?;
    let manager = DemoAuthor::new(
        MANAGER
            .0
            .parse()
            .map_err(|_| Error::Invalid("manager id".into()))?,
    );
    let mut seeded = Seeded::default();
    for (i, (rep, name, territory, territory_name)) in REPS.iter().enumerate() {
        admin::add_person(storage, rep, name, PersonKind::Rep)?;
        admin::add_territory(storage, territory, territory_name, Some(MANAGER.0))?;
        admin::assign_territory(storage, territory, rep)?;
        let owner = DemoAuthor::new(rep.parse().map_err(|_| Error::Invalid("rep id".into()))?);
        let authors = [owner, manager.clone()];
        let mut docs = Vec::new();
        for index in 0..cards_per_territory {
            let (_, bytes) = demo_document(2026 + i as u64, index, territory, &authors, 24, today)
                .map_err(|e| Error::Invalid(format!("demo card: {e}")))?;
            // Bounded like anything pushed; `seed_cards` runs the card validator.
            docs.push(load_bounded(&bytes, &BytesLimits::CARD).map_err(Error::from_card_check)?);
        }
        seeded.changes += crate::seed_cards(storage, &docs)?;
        seeded.cards += docs.len();
    }
    Ok(seeded)
}

/// The demo manager's dashboard password (a demo on a laptop; never a real server's).
pub const MANAGER_PASSWORD: &str = "fieldbook-demo";

/// Gives the demo manager a dashboard password unless they have one, and a fresh one-time
/// login link's token.
pub fn dashboard_login(storage: &dyn Storage, now: i64) -> Result<String> {
    if storage.web_password(MANAGER.0)?.is_none() {
        crate::web::account::set_password(storage, MANAGER.0, MANAGER_PASSWORD, now)?;
    }
    crate::web::account::login_link(storage, MANAGER.0, now)
}

/// One-time enrolment tokens for each rep's phone and the manager's tablet.
pub fn enrolment_tokens(storage: &dyn Storage) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    for (rep, name, _, territory_name) in REPS {
        let token = admin::enrol_device(storage, rep, Role::Rep, "演示手机")?.token;
        out.push((format!("{name} ({territory_name})"), rep.to_string(), token));
    }
    let token = admin::enrol_device(storage, MANAGER.0, Role::Manager, "演示平板")?.token;
    out.push((
        format!("{} (manager)", MANAGER.1),
        MANAGER.0.to_string(),
        token,
    ));
    Ok(out)
}
