//! The conformance suite every [`Storage`] backend must pass.
//!
//! Call [`run_all`] with a factory that returns a fresh, empty backend each time (a temp
//! SQLite file, a fresh PostgreSQL schema). The checks use opaque bytes for documents and
//! changes: storage never interprets Automerge data, so neither do its tests.

use super::{
    ActivityRange, CardCommit, CardIndexRow, CardMoves, ChangeRow, HoldRequest, IndexQuery,
    IndexSort, NewChange, NewDevice, NewEnrolment, NewLoginLink, Period, Person, PersonKind,
    ReviewDecision, ReviewFilter, ReviewStatus, Role, Storage, StoredSettings, TerritoryHandoff,
    WebSession,
};
use crate::error::Error;

/// One named check of the suite.
type Check = (&'static str, fn(&dyn Storage));

/// Runs every check against fresh backends from `factory`; panics on the first failure
/// (this is test code), naming the check.
pub fn run_all<S: Storage>(factory: &dyn Fn() -> S) {
    let checks: &[Check] = &[
        ("identity_is_stable", identity_is_stable),
        (
            "company_settings_are_compare_and_set",
            company_settings_are_compare_and_set,
        ),
        ("people_and_territories", people_and_territories),
        (
            "assignment_records_scope_events",
            assignment_records_scope_events,
        ),
        ("enrolment_is_one_time", enrolment_is_one_time),
        ("revocation", revocation),
        ("commit_appends_in_order", commit_appends_in_order),
        (
            "retried_commit_appends_nothing",
            retried_commit_appends_nothing,
        ),
        ("stale_commit_conflicts", stale_commit_conflicts),
        (
            "batch_commit_skips_only_stale_cards",
            batch_commit_skips_only_stale_cards,
        ),
        (
            "pull_queries_exclude_the_device",
            pull_queries_exclude_the_device,
        ),
        ("fallback_state_round_trips", fallback_state_round_trips),
        (
            "rekey_keeps_every_actor_of_the_device",
            rekey_keeps_every_actor_of_the_device,
        ),
        (
            "handoff_times_and_held_changes",
            handoff_times_and_held_changes,
        ),
        // --- manager ---
        (
            "manager_index_filters_sorts_and_pages",
            manager_index_filters_sorts_and_pages,
        ),
        (
            "manager_changes_join_the_log_and_devices",
            manager_changes_join_the_log_and_devices,
        ),
        ("manager_activity_buckets", manager_activity_buckets),
        (
            "manager_activity_rollup_counts_the_change_rows",
            manager_activity_rollup_counts_the_change_rows,
        ),
        (
            "projections_page_through_a_scope",
            projections_page_through_a_scope,
        ),
        (
            "analysis_rows_page_through_a_scope_with_versions",
            analysis_rows_page_through_a_scope_with_versions,
        ),
        (
            "manager_read_model_fills_cards_without_one",
            manager_read_model_fills_cards_without_one,
        ),
        // --- handoff ---
        (
            "deactivated_reps_receive_nothing",
            deactivated_reps_receive_nothing,
        ),
        (
            "territory_handoff_checks_the_owner_and_keeps_history",
            territory_handoff_checks_the_owner_and_keeps_history,
        ),
        (
            "card_moves_commit_and_are_recorded",
            card_moves_commit_and_are_recorded,
        ),
        (
            "held_changes_are_bounded_and_held_once",
            held_changes_are_bounded_and_held_once,
        ),
        (
            "review_decisions_are_recorded_once",
            review_decisions_are_recorded_once,
        ),
        ("late_edits_are_listed", late_edits_are_listed),
        // --- device ---
        (
            "actor_directory_names_every_actor_of_the_writers",
            actor_directory_names_every_actor_of_the_writers,
        ),
        // --- web ---
        (
            "web_links_are_one_time_and_expire",
            web_links_are_one_time_and_expire,
        ),
        ("web_sessions_expire_and_end", web_sessions_expire_and_end),
        ("web_login_failures_window", web_login_failures_window),
    ];
    for (name, check) in checks {
        let storage = factory();
        eprintln!("storage conformance: {name}");
        check(&storage);
    }
}

fn person(s: &dyn Storage, id: &str, kind: PersonKind) {
    s.add_person(&Person {
        id: id.into(),
        name: format!("Name of {id}"),
        kind,
        active: true,
    })
    .expect("add person");
}

fn org(s: &dyn Storage) {
    person(s, "rep-a", PersonKind::Rep);
    person(s, "rep-b", PersonKind::Rep);
    person(s, "boss", PersonKind::Manager);
    s.add_territory("north", "North", Some("boss"))
        .expect("territory");
    s.add_territory("south", "South", None).expect("territory");
    s.assign_territory("north", "rep-a", 1_000).expect("assign");
    s.assign_territory("south", "rep-b", 1_000).expect("assign");
}

fn change(n: u8) -> NewChange {
    NewChange {
        hash: [n; 32],
        bytes: vec![n; 4],
    }
}

fn commit(card: &str, expected: Option<u64>, changes: Vec<NewChange>, device: &str) -> CardCommit {
    CardCommit {
        card_id: card.into(),
        territory: "north".into(),
        expected_last_position: expected,
        doc: vec![1, 2, 3],
        heads: vec![[9; 32], [8; 32]],
        projection: r#"{"name":"x"}"#.into(),
        changes,
        late: false,
        device_id: device.into(),
        received_at: 1_700_000_000,
        index: Default::default(),
        change_rows: Vec::new(),
    }
}

fn company_settings_are_compare_and_set(s: &dyn Storage) {
    assert_eq!(s.company_settings().expect("read"), None, "never set");
    assert_eq!(
        s.set_company_settings(0, r#"{"visits":{"interval_days_a":3}}"#, "wangjl", 100)
            .expect("first"),
        1
    );
    // A save from a revision no longer in force changes nothing.
    assert!(matches!(
        s.set_company_settings(0, "{}", "chen", 101),
        Err(Error::SettingsConflict)
    ));
    assert!(matches!(
        s.set_company_settings(7, "{}", "chen", 101),
        Err(Error::SettingsConflict)
    ));
    assert_eq!(
        s.set_company_settings(1, r#"{"visits":{"interval_days_a":5}}"#, "chen", 102)
            .expect("second"),
        2
    );
    let current = s.company_settings().expect("read").expect("set");
    assert_eq!(
        current,
        StoredSettings {
            revision: 2,
            json: r#"{"visits":{"interval_days_a":5}}"#.into(),
            set_by: "chen".into(),
            set_at: 102,
        }
    );
}

fn identity_is_stable(s: &dyn Storage) {
    let a = s.identity().expect("identity");
    let b = s.identity().expect("identity");
    assert_eq!(a, b);
    assert_ne!(a.cursor_key, [0; 32]);
}

fn people_and_territories(s: &dyn Storage) {
    org(s);
    assert!(matches!(
        s.add_person(&Person {
            id: "rep-a".into(),
            name: "again".into(),
            kind: PersonKind::Rep,
            active: true,
        }),
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        s.add_territory("north", "again", None),
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        s.assign_territory("nowhere", "rep-a", 1_000),
        Err(Error::NotFound(_))
    ));
    assert!(
        s.assign_territory("north", "boss", 1_000).is_err(),
        "a manager is not a rep"
    );
    assert_eq!(s.people().expect("people").len(), 3);
    let north = s.territory("north").expect("get").expect("exists");
    assert_eq!(north.owner.as_deref(), Some("rep-a"));
    assert_eq!(north.manager.as_deref(), Some("boss"));
    assert_eq!(
        s.territories_of("rep-a", Role::Rep).expect("scope"),
        ["north"]
    );
    assert_eq!(
        s.territories_of("boss", Role::Manager).expect("scope"),
        ["north"]
    );
    assert!(
        s.territories_of("boss", Role::Admin)
            .expect("scope")
            .is_empty()
    );
}

fn assignment_records_scope_events(s: &dyn Storage) {
    org(s);
    let before = s.head_position().expect("head");
    let p = s
        .assign_territory("north", "rep-b", 1_000)
        .expect("reassign");
    assert!(p > before);
    let lost = s.scope_events_after("rep-a", before).expect("events");
    assert_eq!(lost.len(), 1);
    assert!(!lost[0].gained);
    let gained = s.scope_events_after("rep-b", before).expect("events");
    assert_eq!(gained.len(), 1);
    assert!(gained[0].gained);
    assert_eq!(gained[0].territory_id, "north");
    assert!(s.scope_events_after("rep-b", p).expect("events").is_empty());
    let mut b = s.territories_of("rep-b", Role::Rep).expect("scope");
    b.sort();
    assert_eq!(b, ["north", "south"]);
    // Assigning to the current owner changes nothing.
    let head = s.head_position().expect("head");
    s.assign_territory("north", "rep-b", 1_000).expect("noop");
    assert_eq!(s.head_position().expect("head"), head);
}

fn enrol(s: &dyn Storage, token: &str, device: &str, actor: u8, now: i64) -> Result<(), Error> {
    s.redeem_enrolment(
        token,
        &NewDevice {
            id: device.into(),
            actor: vec![actor; 16],
            token_hash: format!("device-token-{device}"),
            expires_at: None,
            now,
        },
    )
    .map(|_| ())
}

fn enrolment_is_one_time(s: &dyn Storage) {
    org(s);
    s.create_enrolment(&NewEnrolment {
        token_hash: "t1".into(),
        person_id: "rep-a".into(),
        role: Role::Rep,
        device_name: "phone".into(),
        expires_at: 2_000,
    })
    .expect("enrolment");
    assert!(matches!(
        enrol(s, "nope", "d0", 1, 1_000),
        Err(Error::BadEnrolment)
    ));
    enrol(s, "t1", "d1", 1, 1_000).expect("redeem");
    assert!(matches!(
        enrol(s, "t1", "d2", 2, 1_000),
        Err(Error::BadEnrolment)
    ));
    let d = s
        .device_by_token_hash("device-token-d1")
        .expect("lookup")
        .expect("exists");
    assert_eq!(d.person_id, "rep-a");
    assert_eq!(d.role, Role::Rep);
    assert_eq!(d.actor, vec![1; 16]);
    assert!(s.device_by_token_hash("other").expect("lookup").is_none());

    s.create_enrolment(&NewEnrolment {
        token_hash: "t-late".into(),
        person_id: "rep-a".into(),
        role: Role::Rep,
        device_name: "phone".into(),
        expires_at: 2_000,
    })
    .expect("enrolment");
    assert!(matches!(
        enrol(s, "t-late", "d3", 3, 3_000),
        Err(Error::BadEnrolment)
    ));

    s.create_enrolment(&NewEnrolment {
        token_hash: "t-same-actor".into(),
        person_id: "rep-b".into(),
        role: Role::Rep,
        device_name: "phone".into(),
        expires_at: 2_000,
    })
    .expect("enrolment");
    assert!(
        enrol(s, "t-same-actor", "d4", 1, 1_000).is_err(),
        "actor already bound"
    );
    assert!(matches!(
        s.create_enrolment(&NewEnrolment {
            token_hash: "t-nobody".into(),
            person_id: "nobody".into(),
            role: Role::Rep,
            device_name: "phone".into(),
            expires_at: 2_000,
        }),
        Err(Error::NotFound(_))
    ));
}

fn rekey_keeps_every_actor_of_the_device(s: &dyn Storage) {
    org(s);
    for (token, person) in [("t1", "rep-a"), ("t2", "rep-b")] {
        s.create_enrolment(&NewEnrolment {
            token_hash: token.into(),
            person_id: person.into(),
            role: Role::Rep,
            device_name: "phone".into(),
            expires_at: 2_000,
        })
        .expect("enrolment");
    }
    enrol(s, "t1", "d1", 1, 1_000).expect("redeem");
    enrol(s, "t2", "d2", 2, 1_000).expect("redeem");
    let d = s.rekey_device("d1", &[5; 16], 1_100).expect("rekey");
    assert_eq!(d.actor, vec![5; 16]);
    assert_eq!(d.former_actors, vec![vec![1; 16]]);
    assert_eq!(d.rekeys, 1);
    assert!(d.owns_actor(&[1; 16]) && d.owns_actor(&[5; 16]));
    assert!(!d.owns_actor(&[2; 16]));
    // The same lookup the token does sees the same.
    let by_token = s
        .device_by_token_hash("device-token-d1")
        .expect("lookup")
        .expect("exists");
    assert_eq!(by_token, d);
    // A retried re-key to the current actor changes nothing.
    assert_eq!(s.rekey_device("d1", &[5; 16], 1_200).expect("again"), d);
    // Another device's actor, current or former, is never taken.
    assert!(matches!(
        s.rekey_device("d1", &[2; 16], 1_300),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.rekey_device("d2", &[1; 16], 1_300),
        Err(Error::Invalid(_))
    ));
    assert!(matches!(
        s.rekey_device("d9", &[9; 16], 1_300),
        Err(Error::NotFound(_))
    ));
    let d = s.rekey_device("d1", &[6; 16], 1_400).expect("rekey twice");
    let mut former = d.former_actors.clone();
    former.sort();
    assert_eq!(former, vec![vec![1; 16], vec![5; 16]]);
    assert_eq!(d.rekeys, 2);
    assert_eq!(s.device("d2").expect("get").expect("exists").rekeys, 0);
}

fn revocation(s: &dyn Storage) {
    org(s);
    s.create_enrolment(&NewEnrolment {
        token_hash: "t1".into(),
        person_id: "rep-a".into(),
        role: Role::Rep,
        device_name: "phone".into(),
        expires_at: 2_000,
    })
    .expect("enrolment");
    enrol(s, "t1", "d1", 1, 1_000).expect("redeem");
    s.revoke_device("d1").expect("revoke");
    assert!(s.device("d1").expect("get").expect("exists").revoked);
    assert!(matches!(s.revoke_device("d9"), Err(Error::NotFound(_))));
    s.record_sync("d1", 1_500).expect("record");
    assert_eq!(
        s.device("d1").expect("get").expect("exists").last_sync_at,
        Some(1_500)
    );
    assert_eq!(s.devices().expect("list").len(), 1);
}

fn commit_appends_in_order(s: &dyn Storage) {
    org(s);
    let head = s.head_position().expect("head");
    let out = s
        .commit_card(&commit("c1", None, vec![change(1), change(2)], "d1"))
        .expect("commit");
    assert_eq!(out.appended, 2);
    assert_eq!(out.last_position, head + 2);
    let card = s.card("c1").expect("get").expect("exists");
    assert_eq!(card.first_position, head + 1);
    assert_eq!(card.last_position, head + 2);
    assert_eq!(card.territory, "north");
    assert_eq!(card.doc, vec![1, 2, 3]);
    assert_eq!(card.heads, vec![[9; 32], [8; 32]]);
    assert_eq!(s.log_len().expect("len"), 2);
    assert_eq!(s.head_position().expect("head"), head + 2);
    assert!(s.projection("c1").expect("projection").is_some());
    assert!(s.card("c2").expect("get").is_none());
}

fn retried_commit_appends_nothing(s: &dyn Storage) {
    org(s);
    let out = s
        .commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("commit");
    let again = s
        .commit_card(&commit(
            "c1",
            Some(out.last_position),
            vec![change(1)],
            "d1",
        ))
        .expect("retry");
    assert_eq!(again.appended, 0);
    assert_eq!(again.last_position, out.last_position);
    assert_eq!(s.log_len().expect("len"), 1);
}

fn stale_commit_conflicts(s: &dyn Storage) {
    org(s);
    let out = s
        .commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("commit");
    assert!(matches!(
        s.commit_card(&commit("c1", None, vec![change(2)], "d1")),
        Err(Error::Conflict)
    ));
    assert!(matches!(
        s.commit_card(&commit(
            "c1",
            Some(out.last_position + 7),
            vec![change(2)],
            "d1"
        )),
        Err(Error::Conflict)
    ));
    assert_eq!(
        s.log_len().expect("len"),
        1,
        "a conflicting commit stores nothing"
    );
}

fn batch_commit_skips_only_stale_cards(s: &dyn Storage) {
    org(s);
    let c1 = s
        .commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("commit");
    let mut c3 = commit("c3", None, vec![change(5), change(6)], "d1");
    c3.doc = vec![3, 3];
    let results = s
        .commit_cards(&[
            commit("c1", Some(c1.last_position), vec![change(2)], "d1"),
            // Stale: c1 has moved (by the first entry of this very batch, too).
            commit("c1", Some(c1.last_position), vec![change(3)], "d1"),
            commit("c2", None, vec![change(4), change(1)], "d1"),
            c3,
        ])
        .expect("batch");
    assert_eq!(results.len(), 4);
    let ok = |i: usize| match &results[i] {
        Ok(o) => *o,
        Err(e) => panic!("entry {i}: {e:?}"),
    };
    assert_eq!(ok(0).appended, 1);
    assert!(matches!(results[1], Err(Error::Conflict)));
    assert_eq!(ok(2).appended, 1, "a hash already logged is skipped");
    assert_eq!(ok(3).appended, 2);
    assert!(ok(0).last_position < ok(2).last_position);
    assert!(ok(2).last_position < ok(3).last_position);
    assert_eq!(s.log_len().expect("len"), 5, "the stale card wrote nothing");
    let stored = s.card("c3").expect("card").expect("c3");
    assert_eq!(stored.doc, vec![3, 3]);
    assert_eq!(stored.last_position, ok(3).last_position);
    assert_eq!(
        s.card("c1").expect("card").expect("c1").last_position,
        ok(0).last_position
    );
    assert_eq!(s.head_position().expect("head"), ok(3).last_position);
    assert!(s.commit_cards(&[]).expect("empty batch").is_empty());
}

fn pull_queries_exclude_the_device(s: &dyn Storage) {
    org(s);
    let start = s.head_position().expect("head");
    let a = s
        .commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("commit");
    let b = s
        .commit_card(&commit("c1", Some(a.last_position), vec![change(2)], "d2"))
        .expect("commit");
    let mut south = commit("c2", None, vec![change(3)], "d2");
    south.territory = "south".into();
    s.commit_card(&south).expect("commit");
    let head = s.head_position().expect("head");
    let north = ["north".to_owned()];

    let for_d1 = s
        .cards_changed_by_others(&north, start, head, "d1")
        .expect("query");
    assert_eq!(for_d1.len(), 1);
    assert_eq!(for_d1[0].card_id, "c1");
    assert_eq!(
        s.changes_by_others("c1", start, head, "d1")
            .expect("changes"),
        vec![vec![2u8; 4]]
    );
    // Nothing after the last change, and nothing beyond `upto`.
    assert!(
        s.cards_changed_by_others(&north, b.last_position, head, "d1")
            .expect("query")
            .is_empty()
    );
    assert!(
        s.changes_by_others("c1", start, a.last_position, "d1")
            .expect("changes")
            .is_empty()
    );
    // d2 sees d1's change only.
    assert_eq!(
        s.changes_by_others("c1", start, head, "d2")
            .expect("changes"),
        vec![vec![1u8; 4]]
    );
    let all = s
        .cards_in_territories(&["north".to_owned(), "south".to_owned()])
        .expect("cards");
    assert_eq!(
        all.iter().map(|c| c.card_id.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    assert!(s.cards_in_territories(&[]).expect("cards").is_empty());
}

fn fallback_state_round_trips(s: &dyn Storage) {
    assert!(s.fallback_state("d1", "c1").expect("get").is_none());
    s.save_fallback_state("d1", "c1", &[1, 2]).expect("save");
    s.save_fallback_state("d1", "c1", &[3]).expect("save");
    assert_eq!(s.fallback_state("d1", "c1").expect("get"), Some(vec![3]));
}

fn handoff_times_and_held_changes(s: &dyn Storage) {
    org(s);
    assert_eq!(s.territory_lost_at("rep-a", "north").expect("lost"), None);
    s.assign_territory("north", "rep-b", 5_000)
        .expect("handoff");
    assert_eq!(
        s.territory_lost_at("rep-a", "north").expect("lost"),
        Some(5_000)
    );
    s.assign_territory("north", "rep-a", 6_000).expect("back");
    s.assign_territory("north", "rep-b", 7_000).expect("again");
    assert_eq!(
        s.territory_lost_at("rep-a", "north").expect("lost"),
        Some(7_000)
    );
    assert_eq!(s.territory_lost_at("rep-b", "south").expect("lost"), None);

    let id = s
        .hold_changes(&hold("c1", "d1", vec![change(1)], 8_000))
        .expect("hold")
        .expect("held");
    let held = s.held_changes("c1").expect("held");
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].id, id);
    assert_eq!(held[0].bytes, change(1).bytes);
    assert_eq!(held[0].changes, 1);
    assert_eq!(held[0].status, ReviewStatus::Pending);
    assert_eq!(held[0].received_at, 8_000);
    assert!(s.held_changes("c2").expect("held").is_empty());
    assert_eq!(
        s.log_len().expect("len"),
        0,
        "held changes are not in the log"
    );
}

// --- manager ---

/// An index row; the FTS fields hold what core's search text would (tokens for the grams
/// table, normalised text for the trigram table).
fn index_row(name: &str, sort_key: &str, class: Option<&str>, updated_at: i64) -> CardIndexRow {
    CardIndexRow {
        name: name.into(),
        sort_key: sort_key.into(),
        class: class.map(str::to_owned),
        tags: vec!["vip".into()],
        phone: None,
        city: None,
        updated_at,
        last_visit_at: None,
        conflicts: 0,
        search_full: format!("{name} 021-6234 5678"),
        search_grams: name.split_whitespace().collect::<Vec<_>>().join(" "),
        ..CardIndexRow::default()
    }
}

fn change_row(n: u8, person: &str, at: i64) -> ChangeRow {
    ChangeRow {
        hash: [n; 32],
        person_id: Some(person.into()),
        actor: vec![n; 16],
        device_time: Some(at),
        at,
        created: false,
        visits: 0,
        stages: 0,
        contracts: 0,
        orders: 0,
        fields: vec!["basic.phone".into()],
    }
}

fn indexed_commit(card: &str, territory: &str, n: u8, index: CardIndexRow) -> CardCommit {
    let mut c = commit(card, None, vec![change(n)], "d1");
    c.territory = territory.into();
    c.index = index;
    c.change_rows = vec![change_row(n, "rep-a", 1_000)];
    c
}

fn ids(rows: &[super::IndexedCard]) -> Vec<&str> {
    rows.iter().map(|r| r.card_id.as_str()).collect()
}

fn analysis_rows_page_through_a_scope_with_versions(s: &dyn Storage) {
    org(s);
    for (card, territory, n) in [
        ("c-1", "north", 1),
        ("c-2", "south", 2),
        ("c-3", "north", 3),
    ] {
        let mut index = index_row(card, card, None, 1_000);
        index.lean = format!(r#"{{"id":"{card}"}}"#);
        index.stages = "[]".into();
        s.commit_card(&indexed_commit(card, territory, n, index))
            .expect("commit");
    }
    let north = s
        .analysis_rows_after(Some(&["north".to_owned()]), "", 10, true)
        .expect("north");
    assert_eq!(
        north.iter().map(|r| r.card_id.as_str()).collect::<Vec<_>>(),
        ["c-1", "c-3"]
    );
    assert_eq!(north[0].lean, r#"{"id":"c-1"}"#);
    assert_eq!(north[0].stages, "[]");
    let page = s.analysis_rows_after(None, "c-1", 1, false).expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].card_id, "c-2");
    assert!(page[0].lean.is_empty(), "ids and versions only");
    let before = north[0].version;

    // A new commit of c-1 moves its version and replaces its rows.
    let mut index = index_row("c-1", "c-1", Some("A"), 2_000);
    index.lean = r#"{"id":"c-1","v":2}"#.into();
    index.stages = r#"[{"stage":"won"}]"#.into();
    let position = s
        .card("c-1")
        .expect("read")
        .map(|c| c.last_position)
        .expect("stored");
    let mut next = commit("c-1", Some(position), vec![change(9)], "d1");
    next.territory = "north".into();
    next.index = index;
    s.commit_card(&next).expect("again");
    let of = s
        .analysis_rows_of(&["c-1".to_owned(), "c-9".to_owned()])
        .expect("of");
    assert_eq!(of.len(), 1, "no row for a card that does not exist");
    assert!(of[0].version > before, "{} after {before}", of[0].version);
    assert_eq!(of[0].lean, r#"{"id":"c-1","v":2}"#);
    assert_eq!(
        s.card_stages("c-1").expect("stages").as_deref(),
        Some(r#"[{"stage":"won"}]"#)
    );
    assert_eq!(s.card_stages("c-9").expect("none"), None);
    assert!(
        s.analysis_rows_after(Some(&[]), "", 10, true)
            .expect("none")
            .is_empty()
    );
}

fn projections_page_through_a_scope(s: &dyn Storage) {
    org(s);
    for (card, territory, n) in [
        ("c-1", "north", 1),
        ("c-2", "south", 2),
        ("c-3", "north", 3),
    ] {
        let mut c = commit(card, None, vec![change(n)], "d1");
        c.territory = territory.into();
        c.projection = format!(r#"{{"name":"{card}"}}"#);
        s.commit_card(&c).expect("commit");
    }
    let page = s.projections_after(None, "", 2).expect("all");
    assert_eq!(
        page.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["c-1", "c-2"]
    );
    assert_eq!(page[0].1, r#"{"name":"c-1"}"#);
    let rest = s.projections_after(None, "c-2", 2).expect("rest");
    assert_eq!(rest.len(), 1);
    let north = s
        .projections_after(Some(&["north".to_owned()]), "", 10)
        .expect("north");
    assert_eq!(
        north.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["c-1", "c-3"]
    );
    assert!(
        s.projections_after(Some(&[]), "", 10)
            .expect("none")
            .is_empty()
    );
}

fn manager_index_filters_sorts_and_pages(s: &dyn Storage) {
    org(s);
    let mut a = index_row("alpha 上海", "alpha", Some("A"), 300);
    a.conflicts = 2;
    a.tags = vec!["vip".into(), "new".into()];
    let first = s
        .commit_card(&indexed_commit("c-a", "north", 1, a))
        .expect("a");
    s.commit_card(&indexed_commit(
        "c-b",
        "north",
        2,
        index_row("beta 北京", "beta", Some("B"), 100),
    ))
    .expect("b");
    s.commit_card(&indexed_commit(
        "c-c",
        "south",
        3,
        index_row("gamma 上海", "gamma", None, 200),
    ))
    .expect("c");
    let q = |f: &dyn Fn(&mut IndexQuery)| {
        let mut q = IndexQuery {
            limit: 10,
            ..IndexQuery::default()
        };
        f(&mut q);
        s.index_cards(&q).expect("query")
    };
    let (all, total) = q(&|_| {});
    assert_eq!((ids(&all), total), (vec!["c-a", "c-b", "c-c"], 3));
    assert_eq!(all[0].owner.as_deref(), Some("rep-a"));
    assert_eq!(all[0].row.tags, vec!["new".to_owned(), "vip".to_owned()]);
    assert_eq!(all[0].row.conflicts, 2);
    let (rows, total) = q(&|q| q.territories = Some(vec!["south".into()]));
    assert_eq!((ids(&rows), total), (vec!["c-c"], 1));
    assert_eq!(q(&|q| q.territories = Some(Vec::new())).1, 0);
    assert_eq!(ids(&q(&|q| q.class = Some("B".into())).0), vec!["c-b"]);
    assert_eq!(ids(&q(&|q| q.tag = Some("new".into())).0), vec!["c-a"]);
    assert_eq!(ids(&q(&|q| q.owner = Some("rep-b".into())).0), vec!["c-c"]);
    assert_eq!(ids(&q(&|q| q.conflicted = true).0), vec!["c-a"]);
    assert_eq!(
        ids(&q(&|q| q.matches = vec![(false, "\"上海\"".into())]).0),
        vec!["c-a", "c-c"]
    );
    assert_eq!(
        ids(&q(&|q| q.matches = vec![(true, "\"6234\"".into()), (false, "\"北京\"".into())]).0),
        vec!["c-b"]
    );
    assert_eq!(
        ids(&q(&|q| q.sort = IndexSort::Updated).0),
        vec!["c-a", "c-c", "c-b"]
    );
    assert_eq!(
        ids(&q(&|q| {
            q.sort = IndexSort::Updated;
            q.reverse = true;
        })
        .0),
        vec!["c-b", "c-c", "c-a"]
    );
    let (page, total) = q(&|q| {
        q.offset = 1;
        q.limit = 1;
    });
    assert_eq!((ids(&page), total), (vec!["c-b"], 3));

    // A later commit replaces the row (and its search text); its last change time never
    // goes back.
    let mut again = commit("c-a", Some(first.last_position), vec![change(4)], "d1");
    again.index = index_row("alpha 广州", "alpha", Some("C"), 50);
    s.commit_card(&again).expect("again");
    let row = s.index_card("c-a").expect("row").expect("indexed");
    assert_eq!(row.row.class.as_deref(), Some("C"));
    assert_eq!(row.row.updated_at, 300);
    assert_eq!(row.row.tags, vec!["vip".to_owned()]);
    assert!(
        q(&|q| q.matches = vec![(false, "\"上海\"".into())])
            .0
            .iter()
            .all(|r| r.card_id != "c-a")
    );
    assert_eq!(
        ids(&q(&|q| q.matches = vec![(false, "\"广州\"".into())]).0),
        vec!["c-a"]
    );
    assert!(s.index_card("nope").expect("row").is_none());
}

fn manager_changes_join_the_log_and_devices(s: &dyn Storage) {
    org(s);
    s.create_enrolment(&NewEnrolment {
        token_hash: "t1".into(),
        person_id: "rep-a".into(),
        role: Role::Rep,
        device_name: "演示手机".into(),
        expires_at: 10_000,
    })
    .expect("enrolment");
    enrol(s, "t1", "dev-1", 7, 1_000).expect("enrol");
    let mut c = commit("c1", None, vec![change(1), change(2)], "dev-1");
    c.change_rows = vec![change_row(1, "rep-a", 900), change_row(2, "rep-a", 950)];
    c.change_rows[0].created = true;
    c.change_rows[0].actor = vec![7; 16];
    let first = s.commit_card(&c).expect("commit");
    let mut late = commit("c1", Some(first.last_position), vec![change(3)], "dev-1");
    late.late = true;
    late.received_at = 2_000;
    late.change_rows = vec![change_row(3, "rep-a", 1_990)];
    let second = s.commit_card(&late).expect("late");
    // A retried row is not counted twice.
    let mut retry = commit("c1", Some(second.last_position), vec![change(3)], "dev-1");
    retry.change_rows = vec![change_row(3, "rep-a", 1_990)];
    s.commit_card(&retry).expect("retry");

    let (rows, total) = s.card_changes("c1", 0, 10).expect("changes");
    assert_eq!(total, 3);
    let hashes: Vec<u8> = rows.iter().map(|r| r.change.hash[0]).collect();
    assert_eq!(hashes, vec![3, 2, 1], "newest first");
    assert!(rows[0].late && !rows[1].late);
    assert_eq!(rows[0].received_at, 2_000);
    assert_eq!(rows[2].device_id, "dev-1");
    assert!(rows[2].change.created);
    assert_eq!(rows[2].change.fields, vec!["basic.phone".to_owned()]);
    let (page, _) = s.card_changes("c1", 1, 1).expect("page");
    assert_eq!(page[0].change.hash[0], 2);

    let labels = s
        .device_labels(&[vec![7; 16], vec![99; 16]])
        .expect("labels");
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].name, "演示手机");
    assert_eq!(labels[0].device_id, "dev-1");
    assert_eq!(labels[0].role, Role::Rep);
    assert_eq!(labels[0].person_id, "rep-a");

    s.hold_changes(&HoldRequest {
        card_id: "c1".into(),
        device_id: "dev-1".into(),
        person_id: "rep-a".into(),
        changes: vec![NewChange {
            hash: [41; 32],
            bytes: vec![1],
        }],
        received_at: 3_000,
        max_items: 10,
        max_bytes: 1 << 20,
    })
    .expect("hold");
    assert_eq!(
        s.held_counts_by_person().expect("held"),
        vec![("rep-a".to_owned(), 1)]
    );
    // A decided item waits for no one: only pending items count.
    let held = s.held_changes("c1").expect("held")[0].id;
    s.decide_review(
        &ReviewDecision {
            id: held,
            status: ReviewStatus::Discarded,
            decided_by: "boss".into(),
            note: None,
            at: 3_100,
        },
        None,
    )
    .expect("discard");
    assert_eq!(s.held_counts_by_person().expect("held"), Vec::new());
}

fn manager_activity_buckets(s: &dyn Storage) {
    org(s);
    const DAY: i64 = 86_400;
    // 2026-11-30 is a Monday (UTC).
    let monday = 1_795_996_800;
    let mut c = commit(
        "c1",
        None,
        vec![change(1), change(2), change(3), change(4)],
        "d1",
    );
    c.change_rows = vec![
        ChangeRow {
            created: true,
            ..change_row(1, "rep-a", monday + 3_600)
        },
        ChangeRow {
            visits: 2,
            ..change_row(2, "rep-a", monday + 7_200)
        },
        ChangeRow {
            stages: 1,
            ..change_row(3, "rep-a", monday + DAY)
        },
        change_row(4, "rep-b", monday + 8 * DAY),
    ];
    s.commit_card(&c).expect("commit");
    let range = |period, people: Option<Vec<String>>| ActivityRange {
        territories: Some(vec!["north".into()]),
        people,
        from: monday,
        to: monday + 14 * DAY,
        period,
        utc_offset_secs: 0,
    };
    let days = s.activity_counts(&range(Period::Day, None)).expect("days");
    let got: Vec<(&str, &str, u64, u64, u64, u64, u64)> = days
        .iter()
        .map(|r| {
            (
                r.person_id.as_str(),
                r.bucket.as_str(),
                r.changes,
                r.visits,
                r.new_customers,
                r.cards_updated,
                r.stages_moved,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("rep-a", "2026-11-30", 2, 2, 1, 1, 0),
            ("rep-a", "2026-12-01", 1, 0, 0, 1, 1),
            ("rep-b", "2026-12-08", 1, 0, 0, 1, 0),
        ]
    );
    let weeks = s
        .activity_counts(&range(Period::Week, Some(vec!["rep-a".into()])))
        .expect("weeks");
    assert_eq!(weeks.len(), 1);
    assert_eq!(
        (weeks[0].bucket.as_str(), weeks[0].changes),
        ("2026-11-30", 3)
    );
    let months = s
        .activity_counts(&range(Period::Month, None))
        .expect("months");
    assert_eq!(
        months
            .iter()
            .map(|r| (r.person_id.as_str(), r.bucket.as_str()))
            .collect::<Vec<_>>(),
        vec![
            ("rep-a", "2026-11-01"),
            ("rep-a", "2026-12-01"),
            ("rep-b", "2026-12-01")
        ]
    );
    // Eight hours east, the first change falls on the same local day; an hour before
    // midnight UTC on Sunday is Monday in China.
    let mut shifted = range(Period::Day, None);
    shifted.utc_offset_secs = 8 * 3_600;
    assert_eq!(
        s.activity_counts(&shifted).expect("days")[0].bucket,
        "2026-11-30"
    );
    let mut other = range(Period::Day, None);
    other.territories = Some(vec!["south".into()]);
    assert!(s.activity_counts(&other).expect("none").is_empty());
}

/// Whole local days of China time for a list of people are summed from the activity rollup:
/// the same answer as the count over the change rows (asked for everyone, which counts from
/// the rows), a card edited on two days of a week counted once that week, a change row
/// committed twice counted once, a card's later commit adding to its days.
fn manager_activity_rollup_counts_the_change_rows(s: &dyn Storage) {
    org(s);
    const DAY: i64 = 86_400;
    // 2026-11-30, a Monday, 00:00 in China time.
    let monday = 1_795_996_800 - 8 * 3_600;
    let mut c1 = commit("c1", None, vec![change(1), change(2)], "d1");
    c1.change_rows = vec![
        ChangeRow {
            created: true,
            ..change_row(1, "rep-a", monday + 3_600)
        },
        ChangeRow {
            visits: 1,
            ..change_row(2, "rep-a", monday + 7_200)
        },
    ];
    let first = s.commit_card(&c1).expect("c1");
    let mut again = commit("c1", Some(first.last_position), vec![change(3)], "d1");
    again.change_rows = vec![
        // Already stored: a row sent again is no second change.
        ChangeRow {
            visits: 1,
            ..change_row(2, "rep-a", monday + 7_200)
        },
        ChangeRow {
            stages: 1,
            ..change_row(3, "rep-a", monday + DAY + 60)
        },
    ];
    s.commit_card(&again).expect("c1 again");
    let mut c2 = commit("c2", None, vec![change(4), change(5)], "d1");
    c2.change_rows = vec![
        // The last second of Monday, local time.
        change_row(4, "rep-a", monday + DAY - 1),
        change_row(5, "rep-b", monday + 40 * DAY),
    ];
    s.commit_card(&c2).expect("c2");
    let range = |period, people: Option<Vec<String>>| ActivityRange {
        territories: Some(vec!["north".into()]),
        people,
        from: monday,
        to: monday + 60 * DAY,
        period,
        utc_offset_secs: 8 * 3_600,
    };
    let both = Some(vec!["rep-a".to_owned(), "rep-b".to_owned()]);
    for period in [Period::Day, Period::Week, Period::Month] {
        let rolled = s
            .activity_counts(&range(period, both.clone()))
            .expect("rollup");
        let counted = s.activity_counts(&range(period, None)).expect("rows");
        assert_eq!(rolled, counted, "{period:?}");
    }
    // Past the per-bucket limit the range is counted in one query: the same rows.
    let mut long = range(Period::Day, None);
    long.from = monday - 900 * DAY;
    let mut short = range(Period::Day, None);
    short.territories = None;
    long.territories = None;
    assert_eq!(
        s.activity_counts(&long).expect("one query"),
        s.activity_counts(&short).expect("per bucket")
    );
    let counts = |period| -> Vec<(String, String, [u64; 5])> {
        s.activity_counts(&range(period, both.clone()))
            .expect("counts")
            .into_iter()
            .map(|r| {
                (
                    r.person_id,
                    r.bucket,
                    [
                        r.changes,
                        r.visits,
                        r.new_customers,
                        r.cards_updated,
                        r.stages_moved,
                    ],
                )
            })
            .collect()
    };
    let row = |p: &str, b: &str, n: [u64; 5]| (p.to_owned(), b.to_owned(), n);
    assert_eq!(
        counts(Period::Day),
        vec![
            row("rep-a", "2026-11-30", [3, 1, 1, 2, 0]),
            row("rep-a", "2026-12-01", [1, 0, 0, 1, 1]),
            row("rep-b", "2027-01-09", [1, 0, 0, 1, 0]),
        ]
    );
    assert_eq!(
        counts(Period::Week),
        vec![
            row("rep-a", "2026-11-30", [4, 1, 1, 2, 1]),
            row("rep-b", "2027-01-04", [1, 0, 0, 1, 0]),
        ]
    );
    assert_eq!(
        counts(Period::Month),
        vec![
            row("rep-a", "2026-11-01", [3, 1, 1, 2, 0]),
            row("rep-a", "2026-12-01", [1, 0, 0, 1, 1]),
            row("rep-b", "2027-01-01", [1, 0, 0, 1, 0]),
        ]
    );
}

fn manager_read_model_fills_cards_without_one(s: &dyn Storage) {
    org(s);
    s.commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("c1");
    s.commit_card(&commit("c2", None, vec![change(2)], "d1"))
        .expect("c2");
    // Both have an index row now (the default one a commit carries): none is missing.
    assert!(s.cards_without_index("", 10).expect("missing").is_empty());
    s.write_read_model(
        "c1",
        "north",
        &index_row("filled", "filled", None, 5),
        &[change_row(1, "rep-a", 5)],
    )
    .expect("fill");
    let row = s.index_card("c1").expect("row").expect("indexed");
    assert_eq!(row.row.name, "filled");
    assert_eq!(s.card_changes("c1", 0, 10).expect("changes").1, 1);
}

// --- web ---

fn web_links_are_one_time_and_expire(s: &dyn Storage) {
    person(s, "wangfang", PersonKind::Manager);
    for (hash, expires) in [("h-live", 2_000), ("h-old", 1_000)] {
        s.create_login_link(&NewLoginLink {
            token_hash: hash.into(),
            person_id: "wangfang".into(),
            expires_at: expires,
        })
        .expect("link");
    }
    assert_eq!(s.redeem_login_link("h-old", 1_000).expect("redeem"), None);
    assert_eq!(
        s.redeem_login_link("h-live", 1_500)
            .expect("redeem")
            .as_deref(),
        Some("wangfang")
    );
    assert_eq!(s.redeem_login_link("h-live", 1_500).expect("again"), None);
    assert_eq!(
        s.redeem_login_link("h-unknown", 1_500).expect("unknown"),
        None
    );

    assert_eq!(s.web_password("wangfang").expect("password"), None);
    s.set_web_password("wangfang", "$argon2id$one", 10)
        .expect("set");
    s.set_web_password("wangfang", "$argon2id$two", 20)
        .expect("reset");
    assert_eq!(
        s.web_password("wangfang").expect("password").as_deref(),
        Some("$argon2id$two")
    );
}

fn web_session(hash: &str, created_at: i64, expires_at: i64) -> WebSession {
    WebSession {
        token_hash: hash.into(),
        person_id: "wangfang".into(),
        csrf_token: format!("csrf-{hash}"),
        created_at,
        expires_at,
    }
}

fn web_sessions_expire_and_end(s: &dyn Storage) {
    person(s, "wangfang", PersonKind::Manager);
    s.create_web_session(&web_session("a", 100, 200))
        .expect("a");
    s.create_web_session(&web_session("b", 100, 300))
        .expect("b");
    assert_eq!(
        s.web_session("a", 150).expect("a"),
        Some(web_session("a", 100, 200))
    );
    assert_eq!(s.web_session("a", 200).expect("expired"), None);
    s.delete_web_session("b").expect("logout");
    assert_eq!(s.web_session("b", 150).expect("ended"), None);
    s.delete_web_session("b").expect("ending twice is fine");
    // A new password ends the person's sessions.
    s.create_web_session(&web_session("c", 100, 300))
        .expect("c");
    s.set_web_password("wangfang", "$argon2id$new", 120)
        .expect("password");
    assert_eq!(s.web_session("c", 150).expect("c"), None);
}

fn web_login_failures_window(s: &dyn Storage) {
    person(s, "wangfang", PersonKind::Manager);
    assert_eq!(s.record_login_failure("wangfang", 100, 60).expect("1"), 1);
    assert_eq!(s.record_login_failure("wangfang", 130, 60).expect("2"), 2);
    // The first one left the window.
    assert_eq!(s.record_login_failure("wangfang", 170, 60).expect("3"), 2);
    assert_eq!(s.login_failures("wangfang", 110).expect("count"), 2);
    s.clear_login_failures("wangfang").expect("clear");
    assert_eq!(s.login_failures("wangfang", 0).expect("count"), 0);
}

fn hold(card: &str, device: &str, changes: Vec<NewChange>, at: i64) -> HoldRequest {
    HoldRequest {
        card_id: card.into(),
        device_id: device.into(),
        person_id: "rep-a".into(),
        changes,
        received_at: at,
        max_items: 3,
        max_bytes: 1_000,
    }
}

fn deactivated_reps_receive_nothing(s: &dyn Storage) {
    org(s);
    assert!(s.person("rep-b").expect("person").expect("exists").active);
    s.set_person_active("rep-b", false).expect("deactivate");
    assert!(!s.person("rep-b").expect("person").expect("exists").active);
    assert!(
        !s.people()
            .expect("people")
            .iter()
            .any(|p| p.id == "rep-b" && p.active)
    );
    assert!(matches!(
        s.assign_territory("north", "rep-b", 2_000),
        Err(Error::UnknownRep)
    ));
    let handoff = TerritoryHandoff {
        territory: "north".into(),
        from: "rep-a".into(),
        to: "rep-b".into(),
        decided_by: "boss".into(),
        reason: "r".into(),
        at: 2_000,
    };
    assert!(matches!(
        s.hand_off_territory(&handoff),
        Err(Error::UnknownRep)
    ));
    let nobody = TerritoryHandoff {
        to: "nobody".into(),
        ..handoff.clone()
    };
    assert!(matches!(
        s.hand_off_territory(&nobody),
        Err(Error::UnknownRep)
    ));
    assert!(matches!(
        s.set_person_active("nobody", false),
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        s.territory("north")
            .expect("t")
            .expect("exists")
            .owner
            .as_deref(),
        Some("rep-a")
    );
    s.set_person_active("rep-b", true).expect("back");
    s.hand_off_territory(&handoff).expect("now it goes");
}

fn territory_handoff_checks_the_owner_and_keeps_history(s: &dyn Storage) {
    org(s);
    let handoff = TerritoryHandoff {
        territory: "north".into(),
        from: "rep-a".into(),
        to: "rep-b".into(),
        decided_by: "boss".into(),
        reason: "张伟调岗".into(),
        at: 5_000,
    };
    let before = s.head_position().expect("head");
    let a = s.hand_off_territory(&handoff).expect("handoff");
    assert!(a.position > before);
    assert_eq!(a.from.as_deref(), Some("rep-a"));
    assert_eq!(a.to, "rep-b");
    assert_eq!(
        s.territory_lost_at("rep-a", "north").expect("lost"),
        Some(5_000)
    );
    assert_eq!(
        s.scope_events_after("rep-a", before).expect("events").len(),
        1
    );
    // The same request again (a concurrent handoff that lost): the owner is not rep-a now.
    assert!(matches!(
        s.hand_off_territory(&handoff),
        Err(Error::HandoffConflict)
    ));
    let head = s.head_position().expect("head");
    assert!(matches!(
        s.hand_off_territory(&TerritoryHandoff {
            territory: "nowhere".into(),
            ..handoff.clone()
        }),
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        s.head_position().expect("head"),
        head,
        "a refusal writes nothing"
    );
    s.hand_off_territory(&TerritoryHandoff {
        from: "rep-b".into(),
        to: "rep-a".into(),
        reason: "回来了".into(),
        at: 6_000,
        ..handoff.clone()
    })
    .expect("back");
    let history = s.assignment_history("north").expect("history");
    // The first assignment (org, by an administrator), then the two handoffs.
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(history[0].to, "rep-a");
    assert_eq!(history[0].decided_by, "admin");
    assert_eq!(history[0].until, Some(5_000));
    assert_eq!(history[1].reason, "张伟调岗");
    assert_eq!(history[1].decided_by, "boss");
    assert_eq!((history[1].at, history[1].until), (5_000, Some(6_000)));
    assert_eq!(history[2].until, None);
    assert!(s.assignment_history("south").expect("history").len() == 1);
}

fn card_moves_commit_and_are_recorded(s: &dyn Storage) {
    org(s);
    s.commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("c1");
    s.commit_card(&commit("c2", None, vec![change(2)], "d1"))
        .expect("c2");
    let c1 = s.card("c1").expect("card").expect("exists");
    let moved = CardCommit {
        territory: "south".into(),
        expected_last_position: Some(c1.last_position),
        device_id: "server".into(),
        ..commit("c1", None, vec![change(3)], "server")
    };
    let moves = CardMoves {
        territory: "north".into(),
        from: "rep-a".into(),
        to: "rep-b".into(),
        target_territory: "south".into(),
        decided_by: "boss".into(),
        reason: "客户搬迁".into(),
        at: 7_000,
        server_actor: vec![0xAB; 16],
        commits: vec![moved.clone()],
    };
    // A wrong expected owner writes nothing.
    let wrong = CardMoves {
        from: "rep-b".into(),
        ..moves.clone()
    };
    assert!(matches!(s.move_cards(&wrong), Err(Error::HandoffConflict)));
    // The target territory must be the receiving rep's.
    let elsewhere = CardMoves {
        to: "rep-a".into(),
        from: "rep-a".into(),
        ..moves.clone()
    };
    assert!(s.move_cards(&elsewhere).is_err());
    assert_eq!(s.log_len().expect("len"), 2);
    let head = s.head_position().expect("head");
    let done = s.move_cards(&moves).expect("move");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].card_id.as_deref(), Some("c1"));
    assert_eq!(done[0].from_territory.as_deref(), Some("north"));
    assert_eq!(done[0].territory, "south");
    let c1 = s.card("c1").expect("card").expect("exists");
    assert_eq!(c1.territory, "south");
    assert_eq!(done[0].position, c1.last_position);
    assert_eq!(s.log_len().expect("len"), 3);
    // Moving it again from north: it is not there any more.
    let again = CardMoves {
        commits: vec![CardCommit {
            expected_last_position: Some(c1.last_position),
            ..moved.clone()
        }],
        ..moves.clone()
    };
    assert!(matches!(s.move_cards(&again), Err(Error::HandoffConflict)));
    let listed = s
        .card_moves_after(head, s.head_position().expect("head"))
        .expect("moves");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].card_id.as_str(),
            listed[0].from_territory.as_str(),
            listed[0].to_territory.as_str()
        ),
        ("c1", "north", "south")
    );
    assert!(
        s.card_moves_after(c1.last_position, u64::MAX)
            .expect("moves")
            .is_empty()
    );
    assert_eq!(s.card_lost_at("rep-a", "c1").expect("lost"), Some(7_000));
    assert_eq!(s.card_lost_at("rep-b", "c1").expect("lost"), None);
    assert_eq!(s.card_lost_at("rep-a", "c2").expect("lost"), None);
    let actors = s.server_actors().expect("actors");
    assert_eq!(actors.len(), 1);
    assert_eq!(
        (actors[0].actor.clone(), actors[0].person_id.as_str()),
        (vec![0xAB; 16], "boss")
    );
    // The card's own history: who held north when it was there, then its move.
    let card = s.card_assignments("c1").expect("card history");
    assert_eq!(card.len(), 2, "{card:?}");
    assert_eq!(
        (card[0].territory.as_str(), card[0].to.as_str()),
        ("north", "rep-a")
    );
    assert_eq!(card[0].until, Some(7_000));
    assert_eq!(card[1].card_id.as_deref(), Some("c1"));
    assert_eq!(card[1].to, "rep-b");
    // A later handoff of north is not the card's any more; one of south is.
    s.assign_territory("north", "rep-b", 8_000).expect("north");
    assert_eq!(s.card_assignments("c1").expect("card").len(), 2);
    assert_eq!(s.card_assignments("c2").expect("card").len(), 2);
    assert!(s.card_assignments("nope").expect("card").is_empty());
    let north = s.assignment_history("north").expect("north");
    assert!(north.iter().any(|a| a.card_id.as_deref() == Some("c1")));
}

fn held_changes_are_bounded_and_held_once(s: &dyn Storage) {
    org(s);
    let first = s
        .hold_changes(&hold("c1", "d1", vec![change(1), change(2)], 1))
        .expect("hold");
    assert!(first.is_some());
    // A retry brings the same changes and one new one: only the new one is held.
    let second = s
        .hold_changes(&hold("c1", "d1", vec![change(1), change(2), change(3)], 2))
        .expect("hold");
    assert!(second.is_some());
    let held = s.held_changes("c1").expect("held");
    assert_eq!(held.len(), 2);
    assert_eq!(held[1].changes, 1);
    assert_eq!(held[1].bytes, change(3).bytes);
    // Nothing new: nothing stored.
    assert_eq!(
        s.hold_changes(&hold("c1", "d1", vec![change(3)], 3))
            .expect("hold"),
        None
    );
    // The third pending item is the last one this device may have.
    s.hold_changes(&hold("c2", "d1", vec![change(4)], 4))
        .expect("hold")
        .expect("third");
    assert!(matches!(
        s.hold_changes(&hold("c3", "d1", vec![change(5)], 5)),
        Err(Error::ReviewFull)
    ));
    assert!(
        s.held_changes("c3").expect("held").is_empty(),
        "a refusal stores nothing"
    );
    // Another device has its own bound; bytes count too.
    let big = NewChange {
        hash: [6; 32],
        bytes: vec![6; 1_001],
    };
    assert!(matches!(
        s.hold_changes(&hold("c3", "d2", vec![big], 6)),
        Err(Error::ReviewFull)
    ));
    s.hold_changes(&hold("c3", "d2", vec![change(7)], 7))
        .expect("hold")
        .expect("d2");
    // A decided item no longer counts against the bound.
    let one = s.held_changes("c1").expect("held")[0].id;
    s.decide_review(
        &ReviewDecision {
            id: one,
            status: ReviewStatus::Discarded,
            decided_by: "boss".into(),
            note: None,
            at: 8,
        },
        None,
    )
    .expect("discard");
    s.hold_changes(&hold("c3", "d1", vec![change(5)], 9))
        .expect("hold")
        .expect("room again");
}

fn review_decisions_are_recorded_once(s: &dyn Storage) {
    org(s);
    s.add_territory("west", "West", None).expect("west");
    s.commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("c1");
    let mut west = commit("c9", None, vec![change(9)], "d1");
    west.territory = "west".into();
    s.commit_card(&west).expect("c9");
    let a = s
        .hold_changes(&hold("c1", "d1", vec![change(2)], 10))
        .expect("hold")
        .expect("a");
    let b = s
        .hold_changes(&hold("c9", "d1", vec![change(3)], 11))
        .expect("hold")
        .expect("b");
    let all = |status| ReviewFilter {
        territories: None,
        status,
        offset: 0,
        limit: 10,
    };
    let (items, total) = s.review_items(&all(None)).expect("items");
    assert_eq!(total, 2);
    assert_eq!(
        items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [b, a],
        "newest first"
    );
    assert_eq!(items[1].territory.as_deref(), Some("north"));
    assert_eq!(items[1].changes, 1);
    let (north, total) = s
        .review_items(&ReviewFilter {
            territories: Some(vec!["north".into()]),
            ..all(None)
        })
        .expect("items");
    assert_eq!((north.len(), total), (1, 1));
    assert_eq!(north[0].id, a);
    let (none, total) = s
        .review_items(&ReviewFilter {
            territories: Some(Vec::new()),
            ..all(None)
        })
        .expect("items");
    assert!(none.is_empty() && total == 0);
    let (page, total) = s
        .review_items(&ReviewFilter {
            offset: 1,
            limit: 1,
            ..all(None)
        })
        .expect("items");
    assert_eq!((page.len(), total), (1, 2));
    assert_eq!(page[0].id, a);

    // Accepting commits the card write in the same transaction.
    let c1 = s.card("c1").expect("card").expect("exists");
    let write = CardCommit {
        late: true,
        ..commit("c1", Some(c1.last_position), vec![change(2)], "d1")
    };
    let accept = ReviewDecision {
        id: a,
        status: ReviewStatus::Accepted,
        decided_by: "boss".into(),
        note: None,
        at: 20,
    };
    let stale = CardCommit {
        expected_last_position: Some(0),
        ..write.clone()
    };
    assert!(matches!(
        s.decide_review(&accept, Some(&stale)),
        Err(Error::Conflict)
    ));
    assert_eq!(
        s.held_item(a).expect("item").expect("a").status,
        ReviewStatus::Pending
    );
    let outcome = s.decide_review(&accept, Some(&write)).expect("accept");
    assert_eq!(outcome.map(|o| o.appended), Some(1));
    let item = s.held_item(a).expect("item").expect("a");
    assert_eq!(item.status, ReviewStatus::Accepted);
    assert_eq!(item.decided_by.as_deref(), Some("boss"));
    assert_eq!(item.decided_at, Some(20));
    assert!(matches!(
        s.decide_review(&accept, None),
        Err(Error::ReviewDecided)
    ));
    let discard = ReviewDecision {
        id: b,
        status: ReviewStatus::Discarded,
        decided_by: "boss".into(),
        note: Some("重复录入".into()),
        at: 21,
    };
    assert_eq!(s.decide_review(&discard, None).expect("discard"), None);
    let item = s.held_item(b).expect("item").expect("b");
    assert_eq!(item.status, ReviewStatus::Discarded);
    assert_eq!(item.note.as_deref(), Some("重复录入"));
    assert_eq!(
        item.bytes,
        change(3).bytes,
        "a discarded item keeps its bytes"
    );
    assert!(matches!(
        s.decide_review(&discard, None),
        Err(Error::ReviewDecided)
    ));
    assert!(s.held_item(999).expect("item").is_none());
    assert!(matches!(
        s.decide_review(
            &ReviewDecision {
                id: 999,
                ..discard.clone()
            },
            None
        ),
        Err(Error::NotFound(_))
    ));
    let (pending, _) = s
        .review_items(&all(Some(ReviewStatus::Pending)))
        .expect("items");
    assert!(pending.is_empty());
    let (discarded, _) = s
        .review_items(&all(Some(ReviewStatus::Discarded)))
        .expect("items");
    assert_eq!(discarded.len(), 1);
    assert_eq!(discarded[0].note.as_deref(), Some("重复录入"));
}

fn late_edits_are_listed(s: &dyn Storage) {
    org(s);
    s.commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("c1");
    let c1 = s.card("c1").expect("card").expect("exists");
    let late = CardCommit {
        late: true,
        ..commit(
            "c1",
            Some(c1.last_position),
            vec![change(2), change(3)],
            "d1",
        )
    };
    s.commit_card(&late).expect("late");
    let edits = s.late_edits("c1").expect("late");
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0].hash, hex::encode([2u8; 32]));
    assert_eq!(edits[1].hash, hex::encode([3u8; 32]));
    assert!(edits[0].position < edits[1].position);
    assert!(s.late_edits("c2").expect("late").is_empty());
}

// --- device ---
fn actor_directory_names_every_actor_of_the_writers(s: &dyn Storage) {
    org(s);
    for (token, person, role, name) in [
        ("t1", "rep-a", Role::Rep, "演示手机"),
        ("t2", "boss", Role::Manager, "经理平板"),
        ("t3", "rep-b", Role::Rep, "备用手机"),
    ] {
        s.create_enrolment(&NewEnrolment {
            token_hash: token.into(),
            person_id: person.into(),
            role,
            device_name: name.into(),
            expires_at: 2_000,
        })
        .expect("enrolment");
    }
    enrol(s, "t1", "d1", 1, 1_000).expect("redeem");
    enrol(s, "t2", "d2", 2, 1_000).expect("redeem");
    enrol(s, "t3", "d3", 3, 1_000).expect("redeem");
    s.rekey_device("d1", &[5; 16], 1_100).expect("rekey");
    let a = s
        .commit_card(&commit("c1", None, vec![change(1)], "d1"))
        .expect("commit");
    s.commit_card(&commit("c1", Some(a.last_position), vec![change(2)], "d2"))
        .expect("commit");
    s.commit_card(&commit("c2", None, vec![change(3)], "d3"))
        .expect("commit");

    let dir = s.actor_directory(&["c1".to_owned()]).expect("directory");
    let got: Vec<(Vec<u8>, &str, &str, Role)> = dir
        .iter()
        .map(|e| {
            (
                e.actor.clone(),
                e.device_name.as_str(),
                e.person_id.as_str(),
                e.role,
            )
        })
        .collect();
    // d1's former actor and its current one; d2 as a manager's; d3 wrote nothing to c1.
    assert_eq!(
        got,
        vec![
            (vec![1; 16], "演示手机", "rep-a", Role::Rep),
            (vec![2; 16], "经理平板", "boss", Role::Manager),
            (vec![5; 16], "演示手机", "rep-a", Role::Rep),
        ]
    );
    assert_eq!(dir[0].person_name, "Name of rep-a");
    assert!(s.actor_directory(&[]).expect("empty").is_empty());
    assert!(
        s.actor_directory(&["nope".to_owned()])
            .expect("unknown")
            .is_empty()
    );
}
