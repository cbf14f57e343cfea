//! Cards in one store and between two stores: edits, merges, conflicts, history.
//! Each test is a short scenario in a rep's day, on real SQLite files in temp dirs.

use chrono::{TimeZone, Utc};
use fieldbook_core::card::{Contact, Visit};
use fieldbook_core::value::{Class, Money, Scalar, VisitKind};
use fieldbook_core::{CardId, CardQuery, Error, Store};

fn device(dir: &tempfile::TempDir, name: &str, rep: &str) -> Store {
    let mut store = Store::open(dir.path().join(format!("{name}.db"))).expect("open store");
    store
        .init_identity(rep.parse().expect("rep id"))
        .expect("identity");
    store
}

fn sync_files(from: &mut Store, to: &mut Store) {
    let bundle = from.export_bundle(None).expect("export");
    to.import_bundle(&bundle).expect("import");
}

fn new_customer(store: &mut Store) -> CardId {
    store
        .create(|c| {
            c.basic.name = Some("上海华东客户服务有限公司".into());
            c.basic.phone = Some("021-6234 5678".into());
            c.territory = Some("华东区".into());
            c.classification.abc = Some(Class::A);
            c.add_contact(Contact {
                name: Some("王芳".into()),
                title: Some("采购经理".into()),
                mobile: Some("13812345678".into()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("create")
}

#[test]
fn every_section_round_trips_through_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = device(&dir, "a", "zhangwei");
    let id = new_customer(&mut store);
    let paths = [
        ("basic.legal_rep", "李建国"),
        ("basic.founded", "2003-05-18"),
        ("basic.assets", "12000000.50"),
        ("characteristics.potential", "高"),
        ("business.attitude_to_us", "友好, prefers WeChat"),
        ("transaction.problems", "回款慢 😅"),
        ("credit.credit_limit", "500000"),
        ("credit.settlement_day", "25"),
        ("operating.sales_staff", "42"),
        ("marketing.products", "洗衣粉 2kg 袋装"),
        ("classification.nature", "普通公司"),
        ("location.lat", "31.2304"),
        ("location.lon", "121.4737"),
        ("location.route_area", "浦东-陆家嘴"),
        ("sales.2026-10", "86000"),
        ("tags.重点", "yes"),
        ("notes", "老客户，注意春节前备货。"),
    ];
    store
        .update(&id, |c| {
            for (p, v) in paths {
                c.set_path(p, v)?;
            }
            c.add_visit(Visit {
                at: Some(
                    Utc.with_ymd_and_hms(2026, 11, 20, 2, 30, 0)
                        .single()
                        .expect("time"),
                ),
                rep: Some("zhangwei".into()),
                kind: Some(VisitKind::Visit),
                place: Some("陆家嘴店".into()),
                summary: "谈了年底促销方案".into(),
                outcome: Some("同意试销".into()),
                next_step: Some("下周送样品".into()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("update");
    // A fresh process sees the same card: nothing lives only in memory.
    drop(store);
    let mut store = Store::open(dir.path().join("a.db")).expect("reopen");
    let view = store.card(&id).expect("card");
    for (p, v) in paths {
        let got = view.card.get_path(p).expect("path");
        let expected = match p {
            "basic.assets" => "12000000.50".to_string(),
            "credit.credit_limit" => "500000.00".into(),
            "sales.2026-10" => "86000.00".into(),
            "classification.nature" => "company".into(),
            "location.lat" => "31.230400".into(),
            "location.lon" => "121.473700".into(),
            _ => v.to_string(),
        };
        assert_eq!(got.as_deref(), Some(expected.as_str()), "{p}");
    }
    assert_eq!(view.card.visits.len(), 1);
    assert_eq!(view.card.visits[0].summary.as_str(), "谈了年底促销方案");
    assert_eq!(view.card.contacts[0].name.as_deref(), Some("王芳"));
    assert!(view.conflicts.is_empty());
}

#[test]
fn invalid_values_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = device(&dir, "a", "zhangwei");
    let id = new_customer(&mut store);
    let before = store.history(&id).expect("history").len();
    for (path, value) in [
        ("basic.founded", "2026-02-30"),
        ("credit.credit_limit", "-100"),
        ("location.lat", "123"),
        ("credit.settlement_day", "32"),
        ("classification.abc", "E"),
    ] {
        let err = store
            .update(&id, |c| c.set_path(path, value))
            .expect_err(path);
        assert_eq!(err.code(), "input.invalid_value", "{path}");
        assert!(
            err.to_string().contains(path),
            "message names the field: {err}"
        );
    }
    let err = store
        .update(&id, |c| c.set_path("basic.nickname", "x"))
        .expect_err("unknown");
    assert_eq!(err.code(), "input.unknown_field");
    let missing: CardId = "00000000-0000-4000-8000-000000000000".parse().expect("id");
    assert_eq!(
        store.card(&missing).map(|_| ()).map_err(|e| e.code()),
        Err("card.not_found")
    );
    assert_eq!(
        store.history(&id).expect("history").len(),
        before,
        "nothing was written"
    );
}

#[test]
fn two_devices_merge_different_fields_text_and_visits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    a.update(&id, |c| c.set_path("notes", "春节前备货。"))
        .expect("notes");
    sync_files(&mut a, &mut b);

    // Offline, both edit.
    a.update(&id, |c| {
        c.set_path("basic.address", "上海市浦东新区世纪大道100号")?;
        c.set_path("notes", "重要：春节前备货。")?;
        c.add_visit(Visit {
            summary: "A 的拜访".into(),
            at: Some(Utc::now()),
            ..Default::default()
        });
        Ok(())
    })
    .expect("a edits");
    b.update(&id, |c| {
        c.set_path("credit.credit_limit", "300000")?;
        c.set_path("notes", "春节前备货。联系王芳。")?;
        c.add_visit(Visit {
            summary: "B 的电话".into(),
            at: Some(Utc::now()),
            ..Default::default()
        });
        Ok(())
    })
    .expect("b edits");

    sync_files(&mut a, &mut b);
    sync_files(&mut b, &mut a);
    let ca = a.card(&id).expect("a").card;
    let cb = b.card(&id).expect("b").card;
    assert_eq!(ca, cb);
    assert_eq!(
        ca.basic.address.as_deref(),
        Some("上海市浦东新区世纪大道100号")
    );
    assert_eq!(
        ca.credit.credit_limit,
        Some(Money::parse("300000").expect("money"))
    );
    assert_eq!(
        ca.notes.as_str(),
        "重要：春节前备货。联系王芳。",
        "text edits interleave"
    );
    assert_eq!(ca.visits.len(), 2, "both visits survive");
    assert!(a.card(&id).expect("a").conflicts.is_empty());
}

#[test]
fn concurrent_same_field_is_a_visible_conflict_until_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    sync_files(&mut a, &mut b);
    a.update(&id, |c| c.set_path("basic.phone", "13800000001"))
        .expect("a");
    b.update(&id, |c| c.set_path("basic.phone", "13900000002"))
        .expect("b");
    sync_files(&mut a, &mut b);
    sync_files(&mut b, &mut a);

    for store in [&mut a, &mut b] {
        let view = store.card(&id).expect("card");
        assert_eq!(view.conflicts.len(), 1);
        let conflict = &view.conflicts[0];
        assert_eq!(conflict.path, "basic.phone");
        let mut values: Vec<(&str, Option<&str>)> = conflict
            .values
            .iter()
            .map(|v| (v.value.as_str(), v.rep.as_deref()))
            .collect();
        values.sort();
        assert_eq!(
            values,
            vec![
                ("13800000001", Some("zhangwei")),
                ("13900000002", Some("lina"))
            ]
        );
        assert!(conflict.values.iter().all(|v| v.time.is_some()));
        assert_eq!(
            store
                .list(&CardQuery {
                    conflicted: true,
                    ..Default::default()
                })
                .expect("list")
                .len(),
            1
        );
    }
    // Resolve on b with the value that is not necessarily the winner; then merge.
    b.resolve(&id, "basic.phone", "13800000001")
        .expect("resolve");
    sync_files(&mut b, &mut a);
    for store in [&mut a, &mut b] {
        let view = store.card(&id).expect("card");
        assert!(view.conflicts.is_empty());
        assert_eq!(view.card.basic.phone.as_deref(), Some("13800000001"));
    }
    assert_eq!(
        a.resolve(&id, "basic.phone", "1").map_err(|e| e.code()),
        Err("card.no_conflict")
    );
}

#[test]
fn history_is_attributed_per_field_and_the_past_can_be_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    sync_files(&mut a, &mut b);
    b.update(&id, |c| c.set_path("basic.phone", "13900000002"))
        .expect("b");
    b.update(&id, |c| c.set_path("credit.credit_limit", "1000"))
        .expect("b2");
    sync_files(&mut b, &mut a);

    let history = a.history(&id).expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[0].rep.as_deref(), Some("zhangwei"));
    assert!(history[0].fields.contains(&"basic.name".to_string()));
    assert_eq!(history[0].device, a.device_id());
    assert_eq!(history[1].rep.as_deref(), Some("lina"));
    assert_eq!(history[1].device, b.device_id());
    assert_eq!(history[1].fields, vec!["basic.phone".to_string()]);
    assert!(
        history.iter().all(|h| h.time.is_some()),
        "device time is recorded"
    );
    assert_eq!(
        history[2].rep.as_deref(),
        Some("lina"),
        "later changes of a device keep their author"
    );

    let phone = a.field_history(&id, "basic.phone").expect("field history");
    let values: Vec<_> = phone
        .iter()
        .map(|c| (c.entry.rep.clone(), c.value.clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            (Some("zhangwei".into()), Some("021-6234 5678".into())),
            (Some("lina".into()), Some("13900000002".into()))
        ]
    );
    let then = a.card_at_change(&id, &history[0].hash).expect("at");
    assert_eq!(then.basic.phone.as_deref(), Some("021-6234 5678"));
    assert_eq!(then.credit.credit_limit, None);
}

#[test]
fn search_finds_chinese_by_two_characters_and_phones_by_fragment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let id = new_customer(&mut a);
    a.create(|c| {
        c.basic.name = Some("北京百货商场".into());
        c.basic.phone = Some("010-8888 1234".into());
        Ok(())
    })
    .expect("other");
    a.create(|c| {
        c.basic.name = Some("Acme Trading 贸易".into());
        Ok(())
    })
    .expect("other");
    for q in [
        "客户",
        "华东",
        "华东客",
        "客户服务",
        "上",
        "6234",
        "62345678",
        "王芳",
        "13812345678",
        "1381234",
    ] {
        let hits = a.search(q, 10).expect("search");
        assert_eq!(
            hits.iter().map(|h| &h.id).collect::<Vec<_>>(),
            vec![&id],
            "query {q:?}"
        );
    }
    assert_eq!(a.search("acme", 10).expect("search").len(), 1);
    assert_eq!(a.search("ac", 10).expect("search").len(), 1);
    assert_eq!(a.search("贸易", 10).expect("search").len(), 1);
    assert_eq!(a.search("广州", 10).expect("search").len(), 0);
    assert_eq!(
        a.search("\") OR *", 10)
            .expect("fts syntax is not interpreted")
            .len(),
        0
    );
    let names: Vec<String> = a
        .list(&CardQuery::default())
        .expect("list")
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        names,
        vec![
            "Acme Trading 贸易",
            "北京百货商场",
            "上海华东客户服务有限公司"
        ],
        "pinyin order"
    );
}

#[test]
fn corrupt_foreign_and_truncated_bundles_change_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    new_customer(&mut a);
    new_customer(&mut a);
    let good = a.export_bundle(None).expect("export");
    let mut flipped = good.clone();
    let last = flipped.len() - 10;
    flipped[last] ^= 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bundle.truncated", good[..good.len() - 5].to_vec()),
        ("bundle.corrupt", flipped),
        ("bundle.foreign", b"%PDF-1.7 not a bundle".to_vec()),
    ];
    for (code, bytes) in cases {
        let err = b.import_bundle(&bytes).expect_err(code);
        assert_eq!(err.code(), code);
        assert_eq!(b.count().expect("count"), 0, "nothing applied for {code}");
    }
    // A well-formed bundle whose second document is garbage: all or nothing.
    let mut entries = fieldbook_core::store::decode_bundle(&good).expect("decode");
    entries[1].data = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3];
    let err = b
        .import_bundle(&fieldbook_core::store::encode_bundle(&entries))
        .expect_err("bad doc");
    assert_eq!(err.code(), "bundle.corrupt");
    assert_eq!(b.count().expect("count"), 0);
    let report = b.import_bundle(&good).expect("good import");
    assert_eq!(report.cards_new, 2, "{report:?}");
    let again = b.import_bundle(&good).expect("idempotent");
    assert_eq!(again.cards_unchanged, 2);
}

#[test]
fn files_that_are_not_ours_or_newer_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![b'x'; 8192]).expect("write");
    assert_eq!(
        Store::open(&junk).map(|_| ()).map_err(|e| e.code()),
        Err("store.not_fieldbook")
    );

    let other = dir.path().join("other.db");
    {
        let conn = rusqlite::Connection::open(&other).expect("sqlite");
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY);")
            .expect("table");
    }
    assert_eq!(
        Store::open(&other).map(|_| ()).map_err(|e| e.code()),
        Err("store.not_fieldbook")
    );

    let newer = dir.path().join("newer.db");
    drop(Store::open(&newer).expect("create"));
    {
        let conn = rusqlite::Connection::open(&newer).expect("sqlite");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    let err = Store::open(&newer).map(|_| ()).expect_err("newer");
    assert!(matches!(err, Error::NewerSchema { found: 99, .. }));
}

#[test]
fn a_corrupt_card_document_is_reported_for_that_card_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.db");
    let mut a = device(&dir, "a", "zhangwei");
    let bad = new_customer(&mut a);
    let good = new_customer(&mut a);
    drop(a);
    {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        conn.execute(
            "UPDATE cards SET snapshot = x'00112233' WHERE id = ?1",
            [bad.as_str()],
        )
        .expect("damage");
    }
    let mut a = Store::open(&path).expect("reopen");
    // The card screen still shows what was last written (its stored view), but
    // anything that needs the document says precisely what is wrong, and writes nothing.
    assert!(a.card(&bad).is_ok());
    assert_eq!(
        a.history(&bad).map(|_| ()).map_err(|e| e.code()),
        Err("store.corrupt_document")
    );
    assert_eq!(
        a.update(&bad, |c| c.set_path("basic.city", "上海"))
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("store.corrupt_document")
    );
    assert!(a.card(&good).is_ok());
    assert!(
        a.update(&good, |c| c.set_path("basic.city", "上海"))
            .is_ok()
    );
    assert_eq!(
        a.list(&CardQuery::default())
            .expect("list still works")
            .len(),
        2
    );
}

#[test]
fn list_filters_by_territory_class_tag_and_due_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let x = new_customer(&mut a);
    let y = a
        .create(|c| {
            c.basic.name = Some("杭州西湖茶庄".into());
            c.territory = Some("浙江区".into());
            c.classification.abc = Some(Class::C);
            c.tags.insert("茶叶".into());
            c.add_visit(Visit {
                at: Some(Utc::now()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("y");
    let ids = |q: CardQuery| -> Vec<CardId> {
        a.list(&q)
            .expect("list")
            .into_iter()
            .map(|s| s.id)
            .collect()
    };
    assert_eq!(
        ids(CardQuery {
            territory: Some("浙江区".into()),
            ..Default::default()
        }),
        vec![y.clone()]
    );
    assert_eq!(
        ids(CardQuery {
            class: Some(Class::A),
            ..Default::default()
        }),
        vec![x.clone()]
    );
    assert_eq!(
        ids(CardQuery {
            tag: Some("茶叶".into()),
            ..Default::default()
        }),
        vec![y.clone()]
    );
    // x was never visited: due now. y (class C) was visited today: due in 30 days.
    let today = Utc::now().date_naive();
    assert_eq!(
        ids(CardQuery {
            due_by: Some(today),
            ..Default::default()
        }),
        vec![x.clone()]
    );
    let later = today + chrono::Duration::days(31);
    assert_eq!(
        ids(CardQuery {
            due_by: Some(later),
            ..Default::default()
        })
        .len(),
        2
    );
}

#[test]
fn the_stored_card_view_matches_the_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    sync_files(&mut a, &mut b);
    a.update(&id, |c| c.set_path("location.lat", "31.230416"))
        .expect("a");
    b.update(&id, |c| c.set_path("location.lat", "31.2"))
        .expect("b");
    b.update(&id, |c| {
        c.add_visit(Visit {
            summary: "对账 ✅".into(),
            at: Some(Utc::now()),
            ..Default::default()
        });
        Ok(())
    })
    .expect("visit");
    sync_files(&mut b, &mut a);
    drop(a);
    // A fresh process has no document in memory: the card comes from its stored view.
    let mut a = Store::open(dir.path().join("a.db")).expect("reopen");
    let from_view = a.card(&id).expect("view");
    assert_eq!(from_view.conflicts.len(), 1);
    // Loading the document (as any edit or history does) gives the very same card.
    a.history(&id).expect("history loads the document");
    let from_doc = a.card(&id).expect("document");
    assert_eq!(
        serde_json::to_string(&from_view).ok(),
        serde_json::to_string(&from_doc).ok()
    );
}

/// Regression (replicas seed 10856926212595592159): two shops of one chain share a
/// name; devices that stored them in different orders listed them in different orders.
#[test]
fn cards_with_the_same_name_list_in_the_same_order_on_every_device() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    for store in [&mut a, &mut b] {
        store
            .create(|c| c.set_path("basic.name", "Pacific Rim 进出口"))
            .expect("create");
    }
    sync_files(&mut a, &mut b);
    sync_files(&mut b, &mut a);
    for sort in [fieldbook_core::SortBy::Name, fieldbook_core::SortBy::Sales] {
        let ids = |s: &Store| -> Vec<CardId> {
            s.list(&CardQuery {
                sort,
                ..Default::default()
            })
            .expect("list")
            .into_iter()
            .map(|c| c.id)
            .collect()
        };
        assert_eq!(ids(&a), ids(&b), "{sort:?}");
    }
}

/// Item 14: the device that logged a visit kept its time in nanoseconds in the stored
/// view while the document (and so every other device) has milliseconds. Views are
/// a pure function of the document: equal heads give byte-equal views.
#[test]
fn devices_with_equal_heads_have_byte_equal_views_of_a_card_with_visits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    // A time with sub-millisecond digits, as a phone's clock gives.
    let at = Utc
        .with_ymd_and_hms(2026, 11, 3, 9, 30, 0)
        .single()
        .expect("time")
        + chrono::Duration::nanoseconds(123_456_789);
    a.update(&id, |c| {
        c.add_visit(Visit {
            at: Some(at),
            kind: Some(VisitKind::Visit),
            summary: "谈了春节备货".into(),
            ..Default::default()
        });
        Ok(())
    })
    .expect("visit");
    sync_files(&mut a, &mut b);
    drop(a);
    drop(b);
    // Fresh processes: both cards come from the stored views.
    let mut a = Store::open(dir.path().join("a.db")).expect("reopen a");
    let mut b = Store::open(dir.path().join("b.db")).expect("reopen b");
    let va = a.card(&id).expect("a view");
    let vb = b.card(&id).expect("b view");
    assert_eq!(va.heads, vb.heads);
    assert_eq!(
        serde_json::to_string(&va).expect("json"),
        serde_json::to_string(&vb).expect("json")
    );
}

/// Item 13: a tag added on two devices at once was reported as a conflict that could
/// not be resolved (`input.unknown_field`): every reported conflict can be resolved.
#[test]
fn a_conflict_on_a_tag_can_be_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = device(&dir, "a", "zhangwei");
    let mut b = device(&dir, "b", "lina");
    let id = new_customer(&mut a);
    sync_files(&mut a, &mut b);
    a.update(&id, |c| c.set_path("tags.重点", "yes"))
        .expect("a");
    b.update(&id, |c| c.set_path("tags.重点", "yes"))
        .expect("b");
    sync_files(&mut b, &mut a);
    let conflicts = a.conflicts(&id).expect("conflicts");
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].path, "tags.重点");
    let value = conflicts[0].values[0].value.clone();
    a.resolve(&id, "tags.重点", &value)
        .expect("a tag conflict resolves");
    sync_files(&mut a, &mut b);
    for store in [&mut a, &mut b] {
        let view = store.card(&id).expect("card");
        assert!(view.conflicts.is_empty());
        assert!(view.card.tags.contains("重点"));
    }
}

#[test]
fn the_person_on_a_visit_is_the_author_and_a_rep_cannot_record_for_another() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = device(&dir, "a", "zhangwei");
    let id = new_customer(&mut store);
    // The caller names someone else as the visitor: the store writes the author.
    store
        .update(&id, |c| {
            c.add_visit(Visit {
                rep: Some("lina".into()),
                summary: "谈了年底促销方案".into(),
                ..Default::default()
            });
            Ok(())
        })
        .expect("visit");
    let card = store.card(&id).expect("card").card;
    assert_eq!(card.visits.len(), 1);
    assert_eq!(card.visits[0].value.rep.as_deref(), Some("zhangwei"));
    assert_eq!(card.visits[0].value.on_behalf_of, None);
    // Nor can a later edit move an existing visit to someone else.
    let visit = card.visits[0].id.clone();
    let before = store.history(&id).expect("history").len();
    store
        .update(&id, |c| c.set_path(&format!("visits.{visit}.rep"), "lina"))
        .expect("edit");
    assert_eq!(
        store.card(&id).expect("card").card.visits[0]
            .value
            .rep
            .as_deref(),
        Some("zhangwei")
    );
    assert_eq!(store.history(&id).expect("history").len(), before);
    // A rep's device refuses to record on another rep's behalf, and writes nothing.
    let err = store
        .update(&id, |c| {
            c.add_visit(Visit {
                on_behalf_of: Some("lina".into()),
                summary: "代为记录".into(),
                ..Default::default()
            });
            Ok(())
        })
        .expect_err("not a manager");
    assert_eq!(err.code(), "access.not_on_behalf");
    assert_eq!(store.card(&id).expect("card").card.visits.len(), 1);
    // On one's own behalf is just one's own visit.
    store
        .update(&id, |c| {
            c.add_visit(Visit {
                on_behalf_of: Some("zhangwei".into()),
                ..Default::default()
            });
            Ok(())
        })
        .expect("own visit");
    let card = store.card(&id).expect("card").card;
    assert_eq!(card.visits.len(), 2);
    assert!(card.visits.iter().all(|v| v.value.on_behalf_of.is_none()));
}
