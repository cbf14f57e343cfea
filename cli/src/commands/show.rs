//! `fieldbook show`: the card a rep reads before a visit.
//!
//! Open conflicts come first and stand out, because a rep about to call a
//! customer must know the phone number is in doubt. Then every section that has
//! something in it, with the Chinese labels of the schema, the contacts, the visit
//! log in time order, to-dos, opportunities, sales and tags. Empty sections are
//! left out so a new card is short.

use chrono::NaiveTime;
use fieldbook_core::card::rules::choice_label;
use fieldbook_core::card::{COLLECTIONS, SECTIONS, schema};
use fieldbook_core::value::FieldKind;
use fieldbook_core::{Card, Conflict, Store};
use serde_json::Value;

use super::{card_id, parse_time};
use crate::args::ShowArgs;
use crate::error::Result;
use crate::output::{Output, Table, local_time, or_dash, pad, to_json, width};

/// `fieldbook show ID [--at HASH | --as-of TIME]`.
pub fn show(store: &mut Store, args: &ShowArgs) -> Result<Output> {
    let id = card_id(store, &args.id)?;
    if let Some(hash) = &args.at {
        let card = store.card_at_change(&id, hash)?;
        let title = format!("as it was after change {}", crate::output::short(hash));
        return Ok(historical(&card, "at_change", hash, &title));
    }
    if let Some(time) = &args.as_of {
        // A bare date means the end of that day: everything written on it.
        let end_of_day = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        let t = parse_time("as_of", time, end_of_day)?;
        let card = store.card_at_time(&id, t)?;
        let title = format!("as it was at {}", local_time(&t));
        return Ok(historical(&card, "as_of", &t.to_rfc3339(), &title));
    }
    let view = store.card(&id)?;
    let mut text = String::new();
    header(&mut text, &view.card, None);
    conflicts_block(&mut text, &view.conflicts, view.card.id.as_str());
    let conflicted: Vec<&str> = view.conflicts.iter().map(|c| c.path.as_str()).collect();
    body(&mut text, &view.card, &conflicted);
    Ok(Output::new(to_json(&view), text))
}

fn historical(card: &Card, key: &str, value: &str, title: &str) -> Output {
    let mut json = to_json(card);
    if let Value::Object(map) = &mut json {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
    let mut text = String::new();
    header(&mut text, card, Some(title));
    body(&mut text, card, &[]);
    Output::new(json, text)
}

/// The label of a field path: `basic.phone` → 电话, `contacts.<id>.mobile` → 联系人 手机.
pub fn label_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["sales", month] => Some(format!("月销售额 {month}")),
        ["tags", tag] => Some(format!("标签 {tag}")),
        [collection, _, key] => {
            let generic = format!("{collection}.*.{key}");
            schema()
                .into_iter()
                .find(|f| f.path == generic)
                .map(|f| format!("{} {}", f.section_label, f.info.label))
        }
        _ => schema()
            .into_iter()
            .find(|f| f.path == path)
            .map(|f| f.info.label.to_string()),
    }
}

/// A value for people: choices by their label.
fn pretty(key: &str, kind: FieldKind, value: String) -> String {
    match choice_label(key, &value) {
        Some(label) if kind == FieldKind::Choice => label.to_string(),
        _ => value,
    }
}

fn header(out: &mut String, card: &Card, title: Option<&str>) {
    out.push_str(&format!("{}\n", card.display_name()));
    if let Some(title) = title {
        out.push_str(&format!("({title})\n"));
    }
    out.push_str(&format!("  ID    {}\n", card.id));
    if let Some(t) = &card.territory {
        out.push_str(&format!("  区域  {t}\n"));
    }
    if !card.tags.is_empty() {
        let tags: Vec<&str> = card.tags.iter().map(String::as_str).collect();
        out.push_str(&format!("  标签  {}\n", tags.join(", ")));
    }
}

/// The CONFLICTS block: each conflicted field with every value, rep and time.
pub fn conflicts_block(out: &mut String, conflicts: &[Conflict], id: &str) {
    if conflicts.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\n!! CONFLICTS ({}) 冲突: the same field was changed on two devices; confirm the right value\n",
        conflicts.len()
    ));
    for c in conflicts {
        out.push_str(&format!("  {}\n", conflict_line(c)));
    }
    out.push_str(&format!(
        "  resolve with: fieldbook resolve {} PATH VALUE\n",
        crate::output::short(id)
    ));
}

/// `电话 basic.phone: 138… (zhangwei, 2026-11-20 10:02) | 139… (lina, …)`.
pub fn conflict_line(c: &Conflict) -> String {
    let values: Vec<String> = c
        .values
        .iter()
        .map(|v| {
            let who = v
                .rep
                .clone()
                .unwrap_or_else(|| format!("device {}", crate::output::short(&v.device)));
            let when = v
                .time
                .as_ref()
                .map(local_time)
                .unwrap_or_else(|| "time unknown".into());
            format!("{} ({who}, {when})", v.value)
        })
        .collect();
    let label = label_of(&c.path)
        .map(|l| format!("{l} "))
        .unwrap_or_default();
    format!("{label}{}: {}", c.path, values.join(" | "))
}

fn section(out: &mut String, title: &str, rows: &[(String, String)]) {
    if rows.is_empty() {
        return;
    }
    out.push_str(&format!("\n【{title}】\n"));
    let w = rows.iter().map(|(l, _)| width(l)).max().unwrap_or(0);
    for (label, value) in rows {
        let indent = " ".repeat(w + 4);
        let value = value.replace('\n', &format!("\n{indent}"));
        out.push_str(&format!("  {}  {value}\n", pad(label, w)));
    }
}

/// The sections, items and figures; a value in `conflicted` is marked as in doubt.
fn body(out: &mut String, card: &Card, conflicted: &[&str]) {
    let fields = schema();
    for (key, title) in SECTIONS {
        let prefix = format!("{key}.");
        let rows: Vec<(String, String)> = fields
            .iter()
            .filter(|f| f.path.starts_with(&prefix))
            .filter_map(|f| {
                let value = card.get_path(&f.path).ok().flatten()?;
                let mark = if conflicted.contains(&f.path.as_str()) {
                    "  (?! 冲突, see CONFLICTS)"
                } else {
                    ""
                };
                Some((
                    f.info.label.to_string(),
                    format!("{}{mark}", pretty(f.info.key, f.info.kind, value)),
                ))
            })
            .collect();
        section(out, title, &rows);
    }
    if !card.notes.as_str().is_empty() {
        out.push_str(&format!(
            "\n【备注】\n  {}\n",
            card.notes.as_str().replace('\n', "\n  ")
        ));
    }
    let collection_label = |key: &str| {
        COLLECTIONS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, l)| *l)
            .unwrap_or("")
    };
    if !card.contacts.is_empty() {
        out.push_str(&format!("\n【{}】\n", collection_label("contacts")));
        let mut t = Table::new(&["姓名", "职务", "电话", "手机", "邮箱", "微信", "ID"]);
        for c in &card.contacts {
            let primary = if c.primary == Some(true) { " *" } else { "" };
            t.row(vec![
                format!("{}{primary}", or_dash(c.name.as_deref())),
                or_dash(c.title.as_deref()),
                or_dash(c.phone.as_deref()),
                or_dash(c.mobile.as_deref()),
                or_dash(c.email.as_deref()),
                or_dash(c.wechat.as_deref()),
                c.id.clone(),
            ]);
        }
        indent_into(out, &t.render());
    }
    visits(out, card, collection_label("visits"));
    if !card.todos.is_empty() {
        out.push_str(&format!("\n【{}】\n", collection_label("todos")));
        let mut todos: Vec<_> = card.todos.iter().collect();
        todos.sort_by_key(|t| (t.done == Some(true), t.due.is_none(), t.due));
        for t in todos {
            let mark = if t.done == Some(true) { "[x]" } else { "[ ]" };
            let due = t.due.map(|d| format!("  截止 {d}")).unwrap_or_default();
            out.push_str(&format!(
                "  {mark} {}{due}  ({})\n",
                or_dash(t.title.as_deref()),
                t.id
            ));
        }
    }
    if !card.opportunities.is_empty() {
        out.push_str(&format!("\n【{}】\n", collection_label("opportunities")));
        let mut t = Table::new(&["机会名称", "阶段", "预计金额", "预计成交", "进入阶段", "ID"]);
        for o in &card.opportunities {
            t.row(vec![
                or_dash(o.title.as_deref()),
                o.stage
                    .map(|s| s.label().to_string())
                    .unwrap_or_else(|| "-".into()),
                o.amount
                    .map(|a| format!("¥{}", fieldbook_core::value::Scalar::display(&a)))
                    .unwrap_or_else(|| "-".into()),
                o.expected_close
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                o.stage_since
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                o.id.clone(),
            ]);
        }
        indent_into(out, &t.render());
    }
    if !card.sales.is_empty() {
        out.push_str("\n【月销售额】\n");
        for (month, amount) in card.sales.iter().rev() {
            out.push_str(&format!(
                "  {month}  ¥{}\n",
                fieldbook_core::value::Scalar::display(amount)
            ));
        }
    }
}

fn visits(out: &mut String, card: &Card, title: &str) {
    if card.visits.is_empty() {
        return;
    }
    out.push_str(&format!("\n【{title}】 ({})\n", card.visits.len()));
    let mut visits: Vec<_> = card.visits.iter().collect();
    visits.sort_by_key(|v| (v.at.is_none(), v.at));
    for v in visits {
        let when =
            v.at.as_ref()
                .map(local_time)
                .unwrap_or_else(|| "time unknown".into());
        let kind = v.kind.map(|k| k.label()).unwrap_or("-");
        let mut line = format!("  {when}  {kind}  {}", or_dash(v.rep.as_deref()));
        if let Some(other) = &v.on_behalf_of {
            line.push_str(&format!(" for {other}"));
        }
        if let Some(place) = &v.place {
            line.push_str(&format!("  {place}"));
        }
        if let (Some(lat), Some(lon)) = (v.lat, v.lon) {
            line.push_str(&format!(" ({:.5}, {:.5})", lat.get(), lon.get()));
        }
        out.push_str(&format!("{line}  ({})\n", v.id));
        if !v.summary.as_str().is_empty() {
            out.push_str(&format!(
                "    洽谈内容: {}\n",
                v.summary.as_str().replace('\n', "\n              ")
            ));
        }
        let mut tail = Vec::new();
        if let Some(o) = &v.outcome {
            tail.push(format!("结果: {o}"));
        }
        if let Some(n) = &v.next_step {
            tail.push(format!("下一步: {n}"));
        }
        if let Some(d) = v.next_visit {
            tail.push(format!("下次拜访: {d}"));
        }
        if !tail.is_empty() {
            out.push_str(&format!("    {}\n", tail.join("   ")));
        }
    }
}

fn indent_into(out: &mut String, text: &str) {
    for line in text.lines() {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
}
