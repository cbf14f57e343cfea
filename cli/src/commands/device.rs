//! The device itself: who it acts for (`init`), its settings, and the card schema
//! it understands (`fields`).

use fieldbook_core::card::schema;
use fieldbook_core::{RepId, Settings, Store};
use serde_json::{Value, json};

use super::assignment;
use crate::error::{CliError, Result};
use crate::output::{Output, Table, to_json};

/// `fieldbook init --rep REP`.
pub fn init(store: &mut Store, rep: &str) -> Result<Output> {
    let rep: RepId = rep.parse()?;
    let previous = store.rep().cloned();
    store.init_identity(rep.clone())?;
    let device = store.device_id();
    let mut human = format!(
        "device {device}\nrep    {rep}\nstore  {}",
        store.path().display()
    );
    if let Some(prev) = previous.filter(|p| *p != rep) {
        human.push_str(&format!(
            "\n(this device acted for {prev} until now; later edits are authored by {rep})"
        ));
    }
    Ok(Output::new(
        json!({ "device": device, "rep": rep, "store": store.path().display().to_string() }),
        human,
    ))
}

/// `fieldbook fields`: every path `set` accepts, with its label and kind.
pub fn fields() -> Output {
    let fields = schema();
    let mut table = Table::new(&["PATH", "SECTION", "LABEL", "KIND"]);
    for f in &fields {
        table.row(vec![
            f.path.clone(),
            f.section_label.into(),
            f.info.label.into(),
            kind_name(&to_json(&f.info.kind)),
        ]);
    }
    table.row(vec![
        "sales.YYYY-MM".into(),
        "月销售额".into(),
        "月销售额".into(),
        "money".into(),
    ]);
    table.row(vec![
        "tags.TAG".into(),
        "标签".into(),
        "标签".into(),
        "bool".into(),
    ]);
    Output::new(to_json(&fields), table.render())
}

fn kind_name(kind: &Value) -> String {
    kind.as_str().unwrap_or("?").to_string()
}

/// `fieldbook settings [key=value ...]`: show, or change and show.
pub fn settings(store: &mut Store, assignments: &[String]) -> Result<Output> {
    let mut changed = Vec::new();
    if !assignments.is_empty() {
        let mut map = match to_json(store.settings()) {
            Value::Object(map) => map,
            _ => {
                return Err(CliError::Failure {
                    code: "cli.io",
                    message: "settings do not serialise".into(),
                });
            }
        };
        for a in assignments {
            let (key, value) = assignment(a)?;
            if !map.contains_key(key) {
                if is_company_setting(&to_json(&store.company_settings().settings), key) {
                    return Err(CliError::input(
                        "input.company_setting",
                        format!(
                            "{key:?} is a company setting: a manager changes it on the server, \
                             and this device receives it with its next sync"
                        ),
                    ));
                }
                let known: Vec<&str> = map.keys().map(String::as_str).collect();
                return Err(CliError::input(
                    "input.unknown_setting",
                    format!(
                        "unknown setting {key:?}; the settings are: {}",
                        known.join(", ")
                    ),
                ));
            }
            let n: u32 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    CliError::invalid(key, format!("{value:?} is not a whole number of 1 or more"))
                })?;
            map.insert(key.to_string(), json!(n));
            changed.push(key.to_string());
        }
        let settings: Settings = serde_json::from_value(Value::Object(map))
            .map_err(|e| CliError::invalid("settings", e.to_string()))?;
        store.set_settings(settings)?;
    }
    let current = to_json(store.settings());
    let company = store.company_settings();
    let mut table = Table::new(&["SETTING", "VALUE"]);
    if let Value::Object(map) = &current {
        for (k, v) in map {
            let mark = if changed.contains(k) {
                " (changed)"
            } else {
                ""
            };
            table.row(vec![k.clone(), format!("{v}{mark}")]);
        }
    }
    let mut rules = Table::new(&["COMPANY SETTING", "VALUE"]);
    let company_json = to_json(&company.settings);
    let mut leaves = Vec::new();
    flatten("", &company_json, &mut leaves);
    for (k, v) in leaves {
        rules.row(vec![k, v]);
    }
    let source = if company.revision == 0 {
        "defaults: no sync has delivered the company's settings yet".to_owned()
    } else {
        format!(
            "revision {}, as the last sync delivered them",
            company.revision
        )
    };
    Ok(Output::new(
        json!({
            "settings": current,
            "changed": changed,
            "company": { "revision": company.revision, "settings": company_json },
        }),
        format!(
            "{}\nCompany settings ({source}; changed by a manager on the server):\n{}",
            table.render(),
            rules.render()
        ),
    ))
}

/// Whether `key` names a company setting (a section, or a key inside one).
fn is_company_setting(company: &Value, key: &str) -> bool {
    let Value::Object(sections) = company else {
        return false;
    };
    sections.contains_key(key)
        || sections.values().any(|s| match s {
            Value::Object(fields) => fields.contains_key(key),
            _ => false,
        })
        || key.starts_with("visit_days_")
}

/// Dotted keys and shown values of a JSON tree's leaves.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, child, out);
            }
        }
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}
