//! When each opportunity entered each stage, from the card's history: every change that
//! put an opportunity's stage (found in its diff, [`super::walk_change`]) is one
//! [`StageChange`], at the change's time, by its author. Not from `stage_since`, which a
//! device sets by hand.
//!
//! Times are the devices' clocks, the only time a phone knows (the server's receive time
//! exists only on the server), made monotonic along the history: a change is never
//! earlier than the changes it was made on top of, so a phone whose clock is behind
//! cannot move an opportunity back in time. Phone and server derive this from the same
//! document with the same code, so they agree.
//!
//! Concurrent moves (two devices moving one opportunity offline) are both history; while
//! they stay unresolved the card shows one stage (Automerge's deterministic winner), and
//! the losing put is left out, so the current spell is always the stage the card shows.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc};
use chrono::DateTime;

use super::{ChangeSummary, ChangeWalker, StageEntered, summary_of_walk, walk_change};
use crate::analysis::pipeline::StageChange;
use crate::ids::RepId;

/// The stage changes of every opportunity still on the card, in causal order.
///
/// Server-side: one of the documented exceptions to "no Automerge type in core's public
/// API" (the server keeps documents as `Automerge`).
pub fn stage_changes(doc: &Automerge) -> Vec<StageChange> {
    // No opportunity on the card: nothing to date, and no diff worth walking.
    if current_opportunities(doc).is_empty() {
        return Vec::new();
    }
    let mut walker = ChangeWalker::new(doc);
    stages_with(doc, |meta| walker.walk(meta).entered)
}

/// The stage changes of a document and what each change the caller has not seen yet did:
/// a change whose stages entered are in `known` (by hash) is not walked again. For the
/// store's kept history facts (`store::facts`), which walk each change once.
pub(crate) fn stages_and_new_summaries(
    doc: &Automerge,
    known: &HashMap<ChangeHash, Vec<StageEntered>>,
) -> (Vec<ChangeSummary>, Vec<StageChange>) {
    let mut new = Vec::new();
    // One new change (an edit since the facts were kept) is one diff; more are cheaper
    // replayed together (`ChangeWalker`), which replays the whole history once.
    let unknown = doc
        .get_changes_meta(&[])
        .iter()
        .filter(|m| !known.contains_key(&m.hash))
        .count();
    let mut walker = (unknown > 1).then(|| ChangeWalker::new(doc));
    let stages = stages_with(doc, |meta| {
        if let Some(entered) = known.get(&meta.hash) {
            return entered.clone();
        }
        let walk = match walker.as_mut() {
            Some(walker) => walker.walk(meta),
            None => walk_change(doc, meta.hash, &meta.deps),
        };
        let summary = summary_of_walk(meta, walk);
        let entered = summary.stages_entered.clone();
        new.push(summary);
        entered
    });
    (new, stages)
}

/// The stage changes of a document, given what each change entered (`entered_of`, asked
/// once per change in causal order): from a walk of the change's diff, or from what an
/// earlier walk found and the store kept (`store::facts`). With no opportunity on the
/// card, `entered_of` is still asked for every change (the caller may be summarizing).
pub(crate) fn stages_with(
    doc: &Automerge,
    mut entered_of: impl FnMut(&automerge::ChangeMetadata<'_>) -> Vec<StageEntered>,
) -> Vec<StageChange> {
    let current = current_opportunities(doc);
    let mut times: HashMap<ChangeHash, i64> = HashMap::new();
    let mut out = Vec::new();
    for meta in doc.get_changes_meta(&[]) {
        let built_on = meta
            .deps
            .iter()
            .filter_map(|d| times.get(d))
            .copied()
            .max()
            .unwrap_or(0);
        let at = meta.timestamp.max(built_on);
        times.insert(meta.hash, at);
        let entered = entered_of(&meta);
        if entered.is_empty() || current.is_empty() {
            continue;
        }
        // A change without a time (this app never makes one) dates nothing.
        let Some(when) = (at > 0).then(|| DateTime::from_timestamp(at, 0)).flatten() else {
            continue;
        };
        let rep = meta
            .author
            .as_ref()
            .and_then(RepId::from_author)
            .map(|r| r.to_string());
        for entered in entered {
            let Some(losers) = current.get(&entered.opportunity_id) else {
                continue;
            };
            if losers.contains(&meta.hash) {
                continue;
            }
            out.push(StageChange {
                opportunity_id: entered.opportunity_id,
                stage: entered.stage,
                at: when,
                rep: rep.clone(),
            });
        }
    }
    out
}

/// The opportunities on the card now, each with the changes whose stage lost an
/// unresolved conflict (values the card does not show).
fn current_opportunities(doc: &Automerge) -> HashMap<String, HashSet<ChangeHash>> {
    let mut out = HashMap::new();
    let Ok(Some((automerge::Value::Object(ObjType::Map), map))) = doc.get(ROOT, "opportunities")
    else {
        return out;
    };
    for id in doc.keys(&map) {
        let Ok(Some((automerge::Value::Object(ObjType::Map), item))) = doc.get(&map, id.as_str())
        else {
            continue;
        };
        let mut losers = HashSet::new();
        let values = doc.get_all(&item, "stage").unwrap_or_default();
        if values.len() > 1 {
            let winner = doc.get(&item, "stage").ok().flatten().map(|(_, op)| op);
            for (_, op) in values {
                if Some(&op) != winner.as_ref()
                    && let Some(hash) = doc.hash_for_opid(&op)
                {
                    losers.insert(hash);
                }
            }
        }
        out.insert(id, losers);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::activity::classify;
    use crate::analysis::pipeline::stage_times;
    use crate::card::doc::{create_card, read_card, write_card};
    use crate::card::{Card, Keyed, Opportunity};
    use crate::history::summarize_all_for_tests as summaries;
    use crate::value::{Money, OppStage};
    use OppStage::*;
    use automerge::transaction::CommitOptions;

    const DAY: i64 = 86_400;
    /// 2026-11-01 00:00 UTC.
    const T0: i64 = 1_793_491_200;

    fn rep(s: &str) -> RepId {
        s.parse().expect("rep id")
    }

    /// One device's edit: the card as it was → as it is, at a time, by a rep.
    fn edit(doc: &mut Automerge, who: &str, at: i64, change: impl FnOnce(&mut Card)) {
        let old = read_card(&*doc, None).expect("read");
        let mut new = old.clone();
        change(&mut new);
        doc.set_author(Some(rep(who).author()));
        doc.transact_with(
            |_: &Vec<String>| CommitOptions::default().with_time(at),
            |tx| write_card(tx, &old, &new),
        )
        .expect("edit");
    }

    fn new_card(who: &str, at: i64, stage: Option<OppStage>) -> Automerge {
        let mut card = Card::new();
        card.basic.name = Some("上海华东食品有限公司".into());
        if let Some(stage) = stage {
            card.opportunities.push(Keyed {
                id: "o-1".into(),
                value: Opportunity {
                    title: Some("年度酱油供货".into()),
                    stage: Some(stage),
                    amount: Some(Money::yuan(100_000).expect("amount")),
                    ..Default::default()
                },
            });
        }
        let mut doc = Automerge::new();
        doc.set_author(Some(rep(who).author()));
        doc.transact_with(
            |_: &Vec<String>| CommitOptions::default().with_time(at),
            |tx| create_card(tx, &card),
        )
        .expect("create");
        doc
    }

    fn set_stage(card: &mut Card, stage: OppStage) {
        if let Some(o) = card.opportunities.iter_mut().find(|o| o.id == "o-1") {
            o.value.stage = Some(stage);
        }
    }

    fn stages_of(doc: &Automerge) -> Vec<(OppStage, i64)> {
        stage_changes(doc)
            .iter()
            .map(|c| (c.stage, (c.at.timestamp() - T0) / DAY))
            .collect()
    }

    #[test]
    fn a_stage_moved_back_and_forth_is_every_spell() {
        let mut doc = new_card("zhang.wei", T0, Some(FirstContact));
        edit(&mut doc, "zhang.wei", T0 + 3 * DAY, |c| {
            set_stage(c, SampleTest)
        });
        edit(&mut doc, "zhang.wei", T0 + 5 * DAY, |c| {
            set_stage(c, FirstContact)
        });
        edit(&mut doc, "li.na", T0 + 9 * DAY, |c| {
            set_stage(c, Negotiation)
        });
        // An edit of something else is no stage change.
        edit(&mut doc, "li.na", T0 + 10 * DAY, |c| {
            c.basic.phone = Some("021-5555-1234".into())
        });
        assert_eq!(
            stages_of(&doc),
            vec![
                (FirstContact, 0),
                (SampleTest, 3),
                (FirstContact, 5),
                (Negotiation, 9)
            ]
        );
        let changes = stage_changes(&doc);
        assert_eq!(changes[3].rep.as_deref(), Some("li.na"), "by whom");
        let now = DateTime::from_timestamp(T0 + 12 * DAY, 0).expect("now");
        let spells: Vec<(OppStage, i64)> = stage_times(&changes, now).opportunities[0]
            .spells
            .iter()
            .map(|s| (s.stage, s.seconds / DAY))
            .collect();
        assert_eq!(
            spells,
            vec![
                (FirstContact, 3),
                (SampleTest, 2),
                (FirstContact, 4),
                (Negotiation, 3)
            ]
        );
        // The first stage of a new opportunity is no move; the three later puts are.
        let moved: Vec<u32> = summaries(&doc).iter().map(|s| s.stages_moved).collect();
        assert_eq!(moved, vec![0, 1, 1, 1, 0]);
    }

    #[test]
    fn concurrent_moves_end_in_the_stage_the_card_shows() {
        let mut a = new_card("zhang.wei", T0, Some(FirstContact));
        let mut b = a.fork();
        edit(&mut a, "zhang.wei", T0 + 5 * DAY, |c| {
            set_stage(c, Negotiation)
        });
        edit(&mut b, "li.na", T0 + 6 * DAY, |c| set_stage(c, Contract));
        a.merge(&mut b).expect("merge");
        b.merge(&mut a).expect("merge");
        let shown = read_card(&a, None).expect("read").opportunities[0]
            .value
            .stage
            .expect("stage");
        for doc in [&a, &b] {
            let got = stages_of(doc);
            assert_eq!(got.len(), 2, "the losing move is left out: {got:?}");
            assert_eq!(got.last().map(|s| s.0), Some(shown));
        }
        assert_eq!(stage_changes(&a), stage_changes(&b), "both replicas agree");

        // Once someone moves it on, both concurrent moves are history.
        edit(&mut a, "zhang.wei", T0 + 8 * DAY, |c| set_stage(c, Won));
        assert_eq!(
            stages_of(&a),
            vec![(FirstContact, 0), (Negotiation, 5), (Contract, 6), (Won, 8)]
        );
        // Signed once: whichever move reached contract first (li.na's), not the win.
        let contracts: u32 = summaries(&a).iter().map(|s| classify(s).contracts).sum();
        assert_eq!(contracts, 1);
    }

    #[test]
    fn a_clock_behind_never_moves_a_stage_back_in_time() {
        let mut doc = new_card("zhang.wei", T0 + 4 * DAY, Some(FirstContact));
        // This phone's clock says day 1, but it edits the card made on day 4.
        edit(&mut doc, "li.na", T0 + DAY, |c| set_stage(c, SampleTest));
        assert_eq!(stages_of(&doc), vec![(FirstContact, 4), (SampleTest, 4)]);
    }

    #[test]
    fn a_card_without_opportunities_has_no_stage_changes() {
        let mut doc = new_card("zhang.wei", T0, None);
        edit(&mut doc, "zhang.wei", T0 + DAY, |c| {
            c.basic.city = Some("上海".into())
        });
        assert!(stage_changes(&doc).is_empty());
        // An opportunity removed from the card takes its history with it.
        edit(&mut doc, "zhang.wei", T0 + 2 * DAY, |c| {
            c.opportunities.push(Keyed {
                id: "o-1".into(),
                value: Opportunity {
                    title: Some("试销".into()),
                    stage: Some(SampleTest),
                    ..Default::default()
                },
            })
        });
        assert_eq!(stages_of(&doc), vec![(SampleTest, 2)]);
        edit(&mut doc, "zhang.wei", T0 + 3 * DAY, |c| {
            c.opportunities.clear()
        });
        assert!(stage_changes(&doc).is_empty());
    }

    #[test]
    fn a_month_of_sales_added_is_an_order_and_a_correction_is_not() {
        let mut doc = new_card("zhang.wei", T0, None);
        let month = |s: &str| s.parse().expect("month");
        edit(&mut doc, "zhang.wei", T0 + DAY, |c| {
            c.sales
                .insert(month("2026-10"), Money::yuan(5_000).expect("m"));
            c.sales
                .insert(month("2026-11"), Money::yuan(6_000).expect("m"));
        });
        edit(&mut doc, "zhang.wei", T0 + 2 * DAY, |c| {
            c.sales
                .insert(month("2026-11"), Money::yuan(6_500).expect("m"));
        });
        let orders: Vec<u32> = summaries(&doc).iter().map(|s| classify(s).orders).collect();
        assert_eq!(orders, vec![0, 2, 0]);
    }
}
