//! Paging: a small `max_response_bytes` splits a pull into pages that resume exactly.

use std::collections::HashSet;

use crate::harness::Env;

#[test]
fn a_first_sync_pages_and_resumes_without_repeats() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let ids: HashSet<String> = (0..30)
        .map(|i| a.new_card("sh-east", &format!("C{i}")))
        .collect();
    a.sync();

    let mut b = env.rep("zhangwei");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (response, _) = b.sync_once(Some(600));
        pages += 1;
        seen.extend(response.changes.iter().map(|c| c.card_id.clone()));
        if !response.more {
            break;
        }
        assert!(!response.changes.is_empty(), "every page makes progress");
        assert!(pages < 100);
    }
    assert!(pages > 3, "small budget pages the response ({pages} pages)");
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no card sent twice");
    assert_eq!(unique, ids);
}

#[test]
fn edits_made_while_paging_are_not_lost() {
    let env = Env::start();
    let mut a = env.rep("zhangwei");
    let ids: Vec<String> = (0..20)
        .map(|i| a.new_card("sh-east", &format!("C{i}")))
        .collect();
    a.sync();
    let mut b = env.rep("zhangwei");
    b.sync();
    for id in &ids {
        a.set(id, "note", "first");
    }
    a.sync();
    // B takes one page, then A edits cards on both sides of B's position.
    let (response, _) = b.sync_once(Some(1));
    assert!(response.more);
    assert_eq!(response.changes.len(), 1);
    a.set(&ids[0], "note", "second");
    a.set(&ids[19], "note", "second");
    a.sync();
    b.sync();
    for id in &ids {
        assert_eq!(b.heads(id), a.heads(id), "card {id}");
    }
    assert_eq!(b.get(&ids[0], "note").as_deref(), Some("second"));
}
