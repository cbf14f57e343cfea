//! `fieldbook history`, `conflicts` and `resolve`: who changed what, and the
//! fields where two people disagree.
//!
//! History is attributable: every line names the rep (the change's author), the
//! device (the name it was enrolled with and its role, as the sync server's directory
//! told this store; else its Automerge actor, shortened) and the device's clock.
//! `dossier` gathers what a rep taking over a card needs to read.

use fieldbook_core::{HistoryEntry, Store};
use serde_json::json;

use super::card_id;
use super::show::{conflict_line, label_of};
use crate::error::Result;
use crate::output::{Output, Table, opt_time, or_dash, short, to_json};

/// `fieldbook history ID [--field PATH]`.
pub fn history(store: &mut Store, id: &str, field: Option<&str>) -> Result<Output> {
    let id = card_id(store, id)?;
    if let Some(path) = field {
        let path = path.trim();
        let changes = store.field_history(&id, path)?;
        let label = label_of(path).map(|l| format!("{l} ")).unwrap_or_default();
        let mut t = Table::new(&["TIME", "REP", "DEVICE", "VALUE", "CHANGE"]);
        for c in &changes {
            t.row(vec![
                opt_time(c.entry.time.as_ref()),
                or_dash(c.entry.rep.as_deref()),
                device_label(&c.entry),
                c.value.clone().unwrap_or_else(|| "(empty)".into()),
                short(&c.entry.hash),
            ]);
        }
        let human = format!("{label}{path}: {} change(s)\n{}", changes.len(), t.render());
        return Ok(Output::new(
            json!({ "id": id, "field": path, "changes": to_json(&changes) }),
            human,
        ));
    }
    let entries = store.history(&id)?;
    let mut t = Table::new(&["#", "TIME", "REP", "DEVICE", "CHANGE", "FIELDS"]);
    for (i, e) in entries.iter().enumerate() {
        t.row(vec![
            (i + 1).to_string(),
            opt_time(e.time.as_ref()),
            or_dash(e.rep.as_deref()),
            device_label(e),
            short(&e.hash),
            // The first change in causal order is the one that created the card.
            format!(
                "{}{}",
                if i == 0 { "created: " } else { "" },
                compact_fields(&e.fields).join(", ")
            ),
        ]);
    }
    Ok(Output::new(
        json!({ "id": id, "changes": to_json(&entries) }),
        t.render(),
    ))
}

/// The device of a change: its enrolled name and role (`演示手机 (rep)`, a manager's device
/// as `(manager)`) when the store knows the actor, else the actor hex, shortened.
pub(crate) fn device_label(e: &HistoryEntry) -> String {
    match (&e.device_name, &e.device_role) {
        (Some(name), Some(role)) => format!("{name} ({role})"),
        (Some(name), None) => name.clone(),
        _ => short(&e.device),
    }
}

/// `fieldbook dossier ID`: the handover dossier.
pub fn dossier(store: &mut Store, id: &str) -> Result<Output> {
    let id = card_id(store, id)?;
    let d = store.dossier(&id)?;
    let mut human = format!(
        "{} ({})  territory {}\n",
        d.name.as_deref().unwrap_or("(no name)"),
        short(&d.card_id),
        or_dash(d.territory.as_deref())
    );
    human.push_str(&format!(
        "\n交接记录 assignments: {}\n",
        d.assignments.len()
    ));
    if !d.assignments.is_empty() {
        let mut t = Table::new(&["TIME", "TERRITORY", "FROM", "TO", "BY", "REASON"]);
        for a in &d.assignments {
            t.row(vec![
                opt_time(Some(&a.at)),
                match &a.card_id {
                    Some(card) => format!("{} (card {})", a.territory, short(card)),
                    None => a.territory.clone(),
                },
                or_dash(a.from.as_deref()),
                a.to.clone(),
                a.decided_by.clone(),
                a.reason.clone(),
            ]);
        }
        human.push_str(&t.render());
    }
    human.push_str(&format!("\n跟踪记录 visits: {}\n", d.visits.len()));
    if !d.visits.is_empty() {
        let mut t = Table::new(&["TIME", "REP", "SUMMARY", "OUTCOME"]);
        for v in &d.visits {
            t.row(vec![
                opt_time(v.at.as_ref()),
                or_dash(v.rep.as_deref()),
                v.summary.to_string(),
                or_dash(v.outcome.as_deref()),
            ]);
        }
        human.push_str(&t.render());
    }
    human.push_str(&format!("\n待办事务 open to-dos: {}\n", d.open_todos.len()));
    for t in &d.open_todos {
        human.push_str(&format!(
            "  {} {}\n",
            or_dash(t.title.as_deref()),
            t.due.map(|d| format!("(due {d})")).unwrap_or_default()
        ));
    }
    human.push_str(&format!(
        "\n销售机会 open opportunities: {}\n",
        d.open_opportunities.len()
    ));
    for o in &d.open_opportunities {
        human.push_str(&format!(
            "  {} {}\n",
            or_dash(o.title.as_deref()),
            o.stage.map(|s| s.label().to_string()).unwrap_or_default()
        ));
    }
    human.push_str(&format!(
        "\n字段历史 field history: {} field(s)\n",
        d.fields.len()
    ));
    let mut t = Table::new(&["FIELD", "TIME", "REP", "DEVICE", "VALUE"]);
    for f in &d.fields {
        for c in &f.changes {
            t.row(vec![
                f.path.clone(),
                opt_time(c.entry.time.as_ref()),
                or_dash(c.entry.rep.as_deref()),
                device_label(&c.entry),
                c.value.clone().unwrap_or_else(|| "(empty)".into()),
            ]);
        }
    }
    human.push_str(&t.render());
    Ok(Output::new(to_json(&d), human))
}

/// Drop paths inside an item that the same change added whole
/// (`visits.X` makes `visits.X.summary` redundant), so a line stays readable.
fn compact_fields(fields: &[String]) -> Vec<&str> {
    fields
        .iter()
        .filter(|f| {
            !fields.iter().any(|g| {
                g.len() < f.len() && f.starts_with(g.as_str()) && f[g.len()..].starts_with('.')
            })
        })
        .map(String::as_str)
        .collect()
}

/// `fieldbook conflicts ID`.
pub fn conflicts(store: &mut Store, id: &str) -> Result<Output> {
    let id = card_id(store, id)?;
    let conflicts = store.conflicts(&id)?;
    let human = if conflicts.is_empty() {
        "no conflicts\n".to_string()
    } else {
        let mut s: String = conflicts
            .iter()
            .map(|c| format!("{}\n", conflict_line(c)))
            .collect();
        s.push_str(&format!(
            "resolve with: fieldbook resolve {} PATH VALUE\n",
            short(id.as_str())
        ));
        s
    };
    Ok(Output::new(
        json!({ "id": id, "conflicts": to_json(&conflicts) }),
        human,
    ))
}

/// `fieldbook resolve ID PATH VALUE`: write the right value over every concurrent one.
pub fn resolve(store: &mut Store, id: &str, path: &str, value: &str) -> Result<Output> {
    let id = card_id(store, id)?;
    let path = path.trim();
    store.resolve(&id, path, value)?;
    let remaining = store.conflicts(&id)?.len();
    let shown = store.card(&id)?.card.get_path(path).ok().flatten();
    let human = format!(
        "resolved {path} = {}; {remaining} conflict(s) left on this card",
        shown.clone().unwrap_or_else(|| "(empty)".into())
    );
    Ok(Output::new(
        json!({ "id": id, "path": path, "value": shown, "conflicts_left": remaining }),
        human,
    ))
}
