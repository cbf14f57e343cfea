//! `move-to-postgres`: a SQLite company moved into PostgreSQL, exactly, verified, safely
//! re-run, and served from there to the same devices with the cursors they hold. (The
//! names say `sqlite`: the PostgreSQL pass of this suite skips them, their source is the
//! SQLite file.)

use std::sync::Arc;

use fieldbook_server::storage::Storage;
use fieldbook_server::storage::postgres::{PgStorage, ScratchDatabase, import};
use fieldbook_tests::server::TestServer;

use crate::conformance::test_postgres;
use crate::harness::Env;

#[test]
fn a_sqlite_company_moves_to_postgres_and_its_devices_carry_on_there() {
    let Some(admin) = test_postgres() else {
        return;
    };
    let env = Env::start();
    let mut zhang = env.rep("zhangwei");
    let mut tablet = env.rep("zhangwei");
    let cards: Vec<String> = ["杭州西湖茶庄", "宁波港口物流", "绍兴黄酒行"]
        .iter()
        .map(|name| zhang.new_card("sh-east", name))
        .collect();
    zhang.set(&cards[0], "phone", "13800001111");
    zhang.sync();
    tablet.sync();
    let source = env.storage();

    let scratch = ScratchDatabase::create(&admin).expect("scratch database");
    let target = PgStorage::connect(scratch.url()).expect("connect");
    let report = import::move_to_postgres(&env.server.db_path(), &target).expect("move");
    assert_eq!(report.cards_verified, 3);
    assert_eq!(report.cards_reindexed, 3, "search rows derived again");
    assert_eq!(
        target.identity().expect("id"),
        source.identity().expect("id")
    );
    assert_eq!(
        target.log_len().expect("len"),
        source.log_len().expect("len")
    );
    assert_eq!(
        target.head_position().expect("head"),
        source.head_position().expect("head")
    );
    for card in &cards {
        let (a, b) = (
            source.card(card).expect("card").expect("stored"),
            target.card(card).expect("card").expect("moved"),
        );
        assert_eq!(
            (a.doc, a.heads, a.last_position),
            (b.doc, b.heads, b.last_position)
        );
        assert_eq!(
            source.index_card(card).expect("index").map(|c| c.row.name),
            target.index_card(card).expect("index").map(|c| c.row.name),
        );
    }
    assert_eq!(
        source.devices().expect("devices"),
        target.devices().expect("devices")
    );

    // Run again: the same result, nothing doubled.
    let again = import::move_to_postgres(&env.server.db_path(), &target).expect("again");
    assert_eq!(again.rows, report.rows);
    assert_eq!(
        target.log_len().expect("len"),
        source.log_len().expect("len")
    );

    // Served from PostgreSQL: the devices' tokens and cursors hold.
    let target: Arc<dyn Storage> = Arc::new(target);
    let pg = TestServer::start_on(target.clone(), tempfile::tempdir().expect("dir"));
    tablet.url = pg.url();
    zhang.url = pg.url();
    tablet.set(&cards[1], "phone", "13900002222");
    tablet.sync();
    zhang.sync();
    assert_eq!(zhang.heads(&cards[1]), tablet.heads(&cards[1]));

    // Now PostgreSQL is ahead of the file: moving again would lose that edit.
    let ahead = PgStorage::connect(scratch.url()).expect("connect");
    let err = import::move_to_postgres(&env.server.db_path(), &ahead).expect_err("refused");
    assert_eq!(err.code(), "request.invalid", "{err}");
    assert_eq!(
        target.log_len().expect("len"),
        source.log_len().expect("len") + 1
    );
}
