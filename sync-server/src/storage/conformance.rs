//! The conformance suite every [`Storage`] backend must pass.
//!
//! Call [`run_all`] with a factory that returns a fresh, empty backend each time (a temp
//! SQLite file, a fresh PostgreSQL schema). The checks use opaque bytes for documents and
//! changes: storage never interprets Automerge data, so neither do its tests.

use super::{
    ActivityRange, CardCommit, CardIndexRow, ChangeRow, HeldChanges, IndexQuery, IndexSort,
    NewChange, NewDevice, NewEnrolment, Period, Person, PersonKind, Role, Storage,
};
use crate::error::Error;

/// One named check of the suite.
type Check = (&'static str, fn(&dyn Storage));

/// Runs every check against fresh backends from `factory`; panics on the first failure
/// (this is test code), naming the check.
pub fn run_all<S: Storage>(factory: &dyn Fn() -> S) {
    let checks: &[Check] = &[
        ("identity_is_stable", identity_is_stable),
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
            "manager_read_model_fills_cards_without_one",
            manager_read_model_fills_cards_without_one,
        ),
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
            kind: PersonKind::Rep
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

    let held = HeldChanges {
        card_id: "c1".into(),
        device_id: "d1".into(),
        person_id: "rep-a".into(),
        bytes: vec![1, 2, 3],
        received_at: 8_000,
    };
    s.hold_changes(&held).expect("hold");
    assert_eq!(s.held_changes("c1").expect("held"), vec![held]);
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

    s.hold_changes(&HeldChanges {
        card_id: "c1".into(),
        device_id: "dev-1".into(),
        person_id: "rep-a".into(),
        bytes: vec![1],
        received_at: 3_000,
    })
    .expect("hold");
    assert_eq!(
        s.held_counts_by_person().expect("held"),
        vec![("rep-a".to_owned(), 1)]
    );
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
