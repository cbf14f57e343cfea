//! 设置: the company settings, every section and field, as one form. Saving goes through
//! [`crate::manager::set_settings`], exactly as the API's `PUT /v1/manager/settings`:
//! core validates, a refusal shows its reason with the posted values and leaves the
//! previous settings in force, and a save from a revision no longer in force
//! (`settings.conflict`: another manager saved meanwhile) is refused.
//!
//! The form is generated from the settings' own JSON (one input per leaf; lists as JSON
//! text), so a setting added to core appears here without a template change.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::PageError;
use super::pages::{Nav, render};
use super::session::{Dashboard, check_origin};
use super::text::shown;
use crate::AppState;
use crate::error::Error;
use crate::manager::{SettingsUpdate, SettingsView};

/// Most fields a posted form may carry (the settings have about forty).
const MAX_FIELDS: usize = 200;

/// One input.
pub(crate) struct Field {
    /// The dotted path (`visits.interval_days_a`): the input's name and id.
    path: String,
    label: String,
    value: String,
    /// `number`, `bool` or `text` (lists and strings).
    kind: &'static str,
}

/// One section of the form.
pub(crate) struct Section {
    title: String,
    fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    nav: Nav,
    revision: u64,
    set_by: String,
    set_at: String,
    sections: Vec<Section>,
    saved: bool,
    error: String,
}

fn section_title(key: &str) -> String {
    match key {
        "abc" => "ABC 分类",
        "visits" => "拜访计划",
        "route" => "路线",
        "credit" => "信用管理",
        "pipeline" => "商机阶段",
        "product" => "产品分析",
        "duplicates" => "重复客户",
        other => other,
    }
    .to_owned()
}

fn field_label(path: &str) -> String {
    let label = match path {
        "abc.months" => "平均的整月数（3–6）",
        "abc.a_percent" => "A 类累计占销售额（%）",
        "abc.b_percent" => "B 类占销售额（%）",
        "abc.c_percent" => "C 类占销售额（%）",
        "abc.source" => "决定拜访计划的等级（manual：手工设定优先；computed：按销售额计算）",
        "visits.interval_days_a" => "A 类客户拜访间隔（天）",
        "visits.interval_days_b" => "B 类客户拜访间隔（天）",
        "visits.interval_days_c" => "C 类客户拜访间隔（天）",
        "visits.interval_days_d" => "D 类客户拜访间隔（天）",
        "visits.interval_days_unclassified" => "未分类客户拜访间隔（天）",
        "visits.off_plan_after_visits" => "潜在客户无实效拜访几次后移出计划",
        "visits.dormant_after_days" => "多少天无拜访无订单视为休眠",
        "visits.utc_offset_minutes" => "公司时区（与 UTC 相差的分钟数，北京时间 480）",
        "visits.counted_kinds" => "计为拜访的方式",
        "route.return_to_start" => "路线返回起点",
        "route.group_by_area" => "按路线区域分组",
        "route.max_stops" => "每天最多拜访站数",
        "pipeline.stages" => "阶段与成交概率（%）",
        _ => "",
    };
    if label.is_empty() {
        path.to_owned()
    } else {
        label.to_owned()
    }
}

fn sections_of(settings: &Value) -> Vec<Section> {
    let Value::Object(map) = settings else {
        return Vec::new();
    };
    map.iter()
        .map(|(key, section)| {
            let fields = match section {
                Value::Object(fields) => fields
                    .iter()
                    .map(|(name, v)| field(&format!("{key}.{name}"), v))
                    .collect(),
                other => vec![field(key, other)],
            };
            Section {
                title: section_title(key),
                fields,
            }
        })
        .collect()
}

fn field(path: &str, v: &Value) -> Field {
    let (kind, value) = match v {
        Value::Number(n) => ("number", n.to_string()),
        Value::Bool(b) => ("bool", b.to_string()),
        Value::String(s) => ("text", s.clone()),
        other => ("text", other.to_string()),
    };
    Field {
        path: shown(path),
        label: field_label(path),
        value: shown(&value),
        kind,
    }
}

/// The posted fields written over the settings' JSON, leaf by leaf, each parsed as the
/// kind of value it replaces. Unknown fields are ignored; a value of the wrong kind is
/// refused without echoing it.
fn apply_form(mut settings: Value, posted: &[(String, String)]) -> Result<Value, Error> {
    for (name, raw) in posted {
        let Some((section, key)) = name.split_once('.') else {
            continue;
        };
        let Some(slot) = settings.get_mut(section).and_then(|s| s.get_mut(key)) else {
            continue;
        };
        let raw = raw.trim();
        let bad = || Error::SettingsInvalid(format!("{name}: not a value of the right kind"));
        *slot = match slot {
            Value::Number(_) => Value::Number(
                raw.parse::<i64>()
                    .map(serde_json::Number::from)
                    .map_err(|_| bad())?,
            ),
            Value::Bool(_) => Value::Bool(match raw {
                "true" => true,
                "false" => false,
                _ => return Err(bad()),
            }),
            Value::String(_) => Value::String(raw.to_owned()),
            _ => serde_json::from_str(raw).map_err(|_| bad())?,
        };
    }
    Ok(settings)
}

fn page(dashboard: &Dashboard, view: &SettingsView, sections: Vec<Section>) -> SettingsPage {
    SettingsPage {
        nav: Nav::new(dashboard, "settings"),
        revision: view.revision,
        set_by: shown(
            view.set_by_name
                .as_deref()
                .or(view.set_by.as_deref())
                .unwrap_or(""),
        ),
        set_at: view.set_at.clone().unwrap_or_default(),
        sections,
        saved: false,
        error: String::new(),
    }
}

/// `GET /settings`.
pub(super) async fn form(
    State(state): State<AppState>,
    dashboard: Dashboard,
) -> Result<Response, PageError> {
    let viewer = dashboard.viewer.clone();
    let view =
        crate::http::blocking(&state, move |s| crate::manager::settings_view(s, &viewer)).await?;
    let json = serde_json::to_value(&view.settings)
        .map_err(|e| Error::Internal(format!("settings as JSON: {e}")))?;
    Ok(render(&page(&dashboard, &view, sections_of(&json))))
}

/// `POST /settings`: save, or show why not with what was posted.
pub(super) async fn save(
    State(state): State<AppState>,
    dashboard: Dashboard,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    check_origin(&headers)?;
    let Form(posted) = form.map_err(|_| {
        PageError::Server(Error::Malformed(
            "the settings form could not be read".into(),
        ))
    })?;
    if posted.len() > MAX_FIELDS {
        return Err(PageError::Server(Error::Invalid(format!(
            "the settings form has at most {MAX_FIELDS} fields"
        ))));
    }
    let field = |name: &str| {
        posted
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    };
    dashboard.check_form(field("csrf"))?;
    let revision: u64 = field("revision")
        .trim()
        .parse()
        .map_err(|_| PageError::Server(Error::Invalid("revision is not a number".into())))?;
    let viewer = dashboard.viewer.clone();
    let now = state.now();
    let posted_fields = posted.clone();
    let outcome = crate::http::blocking(&state, move |s| {
        let current = crate::manager::settings_view(s, &viewer)?;
        let json = serde_json::to_value(&current.settings)
            .map_err(|e| Error::Internal(format!("settings as JSON: {e}")))?;
        let (shown_json, result) = match apply_form(json.clone(), &posted_fields) {
            Ok(settings) => {
                let update = SettingsUpdate {
                    revision,
                    settings: settings.clone(),
                };
                (
                    settings,
                    crate::manager::set_settings(s, &viewer, &update, now),
                )
            }
            Err(e) => (json, Err(e)),
        };
        Ok((current, shown_json, result))
    })
    .await?;
    let (current, edited, result) = outcome;
    match result {
        Ok(view) => {
            let json = serde_json::to_value(&view.settings)
                .map_err(|e| Error::Internal(format!("settings as JSON: {e}")))?;
            let mut shown_page = page(&dashboard, &view, sections_of(&json));
            shown_page.saved = true;
            Ok(render(&shown_page))
        }
        Err(e @ (Error::SettingsInvalid(_) | Error::SettingsConflict)) => {
            let mut shown_page = page(&dashboard, &current, sections_of(&edited));
            shown_page.revision = revision;
            shown_page.error = format!("{}（{}）", e.public_message(), e.code());
            Ok(render(&shown_page))
        }
        Err(e) => Err(PageError::Server(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_fields_replace_leaves_of_their_own_kind() {
        let json = serde_json::to_value(fieldbook_core::CompanySettings::default()).expect("json");
        let posted = vec![
            ("visits.interval_days_a".to_owned(), " 3 ".to_owned()),
            ("route.return_to_start".to_owned(), "true".to_owned()),
            ("abc.source".to_owned(), "computed".to_owned()),
            ("nonsense.key".to_owned(), "1".to_owned()),
            ("csrf".to_owned(), "x".to_owned()),
        ];
        let edited = apply_form(json, &posted).expect("applied");
        assert_eq!(edited["visits"]["interval_days_a"], 3);
        assert_eq!(edited["route"]["return_to_start"], true);
        assert_eq!(edited["abc"]["source"], "computed");
        let wrong = vec![("visits.interval_days_a".to_owned(), "每周".to_owned())];
        let json = serde_json::to_value(fieldbook_core::CompanySettings::default()).expect("json");
        assert!(matches!(
            apply_form(json, &wrong),
            Err(Error::SettingsInvalid(m)) if !m.contains("每周")
        ));
    }
}
