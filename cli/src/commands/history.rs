//! `fieldbook history`, `conflicts` and `resolve`: who changed what, and the
//! fields where two people disagree.
//!
//! History is attributable: every line names the rep (the change's author), the
//! device (its Automerge actor, shortened) and the device's clock.

use fieldbook_core::Store;
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
                short(&c.entry.device),
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
            short(&e.device),
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
