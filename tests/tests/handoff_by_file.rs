//! Scenario: a rep hands a territory's cards to a successor as a bundle file, and
//! the successor sees every card with its whole, attributed history.

use fieldbook_core::demo::{DemoRng, demo_card, demo_history};
use fieldbook_tests::{TempDevice, exchange_until_quiet, send};

#[test]
fn successor_inherits_cards_with_history_by_file() {
    // 1. Zhang Wei keeps three customers of 华东区 and works on them for a while.
    let mut zhang = TempDevice::new("zhang-phone", "zhangwei");
    let mut rng = DemoRng::new(2);
    let mut ids = Vec::new();
    for i in 0..3 {
        let id = zhang.insert_new(demo_card(2, i, "华东区")).expect("insert");
        demo_history(&mut zhang, &id, &mut rng, 4).expect("edits");
        ids.push(id);
    }
    // 2. He leaves; Li Na receives the cards as a bundle file.
    let mut li = TempDevice::new("li-phone", "lina");
    let report = send(&mut zhang, &mut li);
    assert_eq!(report.cards_new, 3);
    // 3. Li Na sees the same cards, and the history names Zhang Wei.
    for id in &ids {
        let history = li.history(id).expect("history");
        assert_eq!(history.len(), 5, "creation plus four edits");
        assert!(history.iter().all(|h| h.rep.as_deref() == Some("zhangwei")));
    }
    // 4. She logs her own work; both phones end up identical.
    li.update(&ids[0], |c| {
        c.set_path("notes", "接手后第一次拜访，客户很配合。")
    })
    .expect("edit");
    let mut devices = [zhang, li];
    exchange_until_quiet(&mut devices);
    let [zhang, li] = &mut devices;
    let (a, b) = (zhang.all_cards(), li.all_cards());
    assert_eq!(a.len(), 3);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.card, y.card);
        assert_eq!(x.heads, y.heads);
    }
}
