//! The customer card (客户资料卡): a typed view of one Automerge document.
//!
//! [`Card`] is plain data. The store reads it from the document, hands it to an
//! edit closure, and writes back only the fields that changed ([`doc::write_card`]),
//! so each Automerge change touches exactly what the rep edited and history stays
//! readable. Generic field paths (`basic.phone`, `contacts.<id>.mobile`) serve the
//! CLI, conflict lists and history.

pub mod conflicts;
pub(crate) mod doc;
pub mod field;
pub mod sections;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use serde::Serialize;

pub use field::{FieldInfo, LongText, Record};
pub use sections::*;
pub use validate::{validate_card_doc, write_skeleton};

use crate::error::{Error, Result};
use crate::ids::{CardId, YearMonth, new_item_id};
use crate::value::{FieldKind, Money, Scalar};

/// An item of a collection on a card, with its id.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Keyed<T> {
    /// The item's id, unique within the card.
    pub id: String,
    /// The item's fields.
    #[serde(flatten)]
    pub value: T,
}

impl<T> Deref for Keyed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Keyed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// One customer card.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Card {
    /// Stable id.
    pub id: CardId,
    /// The territory the card belongs to.
    pub territory: Option<String>,
    /// 基础资料
    pub basic: BasicData,
    /// 客户特征
    pub characteristics: Characteristics,
    /// 业务状况
    pub business: BusinessStatus,
    /// 交易现状
    pub transaction: TransactionStatus,
    /// 信用资料
    pub credit: CreditData,
    /// 经营资料
    pub operating: OperatingData,
    /// 营销信息
    pub marketing: MarketingInfo,
    /// 客户分类
    pub classification: Classification,
    /// 位置与路线
    pub location: Location,
    /// Free notes on the customer (备注).
    pub notes: LongText,
    /// Contacts (联系人).
    pub contacts: Vec<Keyed<Contact>>,
    /// Visit log (跟踪记录), oldest first.
    pub visits: Vec<Keyed<Visit>>,
    /// To-dos (待办事务).
    pub todos: Vec<Keyed<Todo>>,
    /// Opportunities (销售机会).
    pub opportunities: Vec<Keyed<Opportunity>>,
    /// Monthly sales figures (月销售额).
    pub sales: BTreeMap<YearMonth, Money>,
    /// Tags (标签).
    pub tags: BTreeSet<String>,
}

/// The sections of a card by key, for generic field paths.
pub const SECTIONS: &[(&str, &str)] = &[
    ("basic", "基础资料"),
    ("characteristics", "客户特征"),
    ("business", "业务状况"),
    ("transaction", "交易现状"),
    ("credit", "信用资料"),
    ("operating", "经营资料"),
    ("marketing", "营销信息"),
    ("classification", "客户分类"),
    ("location", "位置与路线"),
];

/// The item collections of a card by key.
pub const COLLECTIONS: &[(&str, &str)] = &[
    ("contacts", "联系人"),
    ("visits", "跟踪记录"),
    ("todos", "待办事务"),
    ("opportunities", "销售机会"),
];

/// A field in the schema, with its full path.
#[derive(Debug, Clone, Serialize)]
pub struct SchemaField {
    /// Path as used by `set`: `basic.phone`, or `contacts.*.mobile` for items.
    pub path: String,
    /// Section or collection label.
    pub section_label: &'static str,
    /// The field.
    #[serde(flatten)]
    pub info: FieldInfo,
}

/// Every editable field of a card, for `fieldbook fields` and generic tooling.
pub fn schema() -> Vec<SchemaField> {
    let mut out = vec![
        SchemaField {
            path: "territory".into(),
            section_label: "卡片",
            info: FieldInfo {
                key: "territory",
                label: "区域",
                kind: FieldKind::Str,
            },
        },
        SchemaField {
            path: "notes".into(),
            section_label: "卡片",
            info: FieldInfo {
                key: "notes",
                label: "备注",
                kind: FieldKind::Text,
            },
        },
    ];
    let mut push = |prefix: &str, label: &'static str, fields: &'static [FieldInfo]| {
        out.extend(fields.iter().map(|f| SchemaField {
            path: format!("{prefix}.{}", f.key),
            section_label: label,
            info: *f,
        }));
    };
    for (key, label) in SECTIONS {
        push(key, label, section_fields(key).unwrap_or(&[]));
    }
    for (key, label) in COLLECTIONS {
        push(
            &format!("{key}.*"),
            label,
            collection_fields(key).unwrap_or(&[]),
        );
    }
    out
}

fn section_fields(section: &str) -> Option<&'static [FieldInfo]> {
    Some(match section {
        "basic" => BasicData::FIELDS,
        "characteristics" => Characteristics::FIELDS,
        "business" => BusinessStatus::FIELDS,
        "transaction" => TransactionStatus::FIELDS,
        "credit" => CreditData::FIELDS,
        "operating" => OperatingData::FIELDS,
        "marketing" => MarketingInfo::FIELDS,
        "classification" => Classification::FIELDS,
        "location" => Location::FIELDS,
        _ => return None,
    })
}

fn collection_fields(collection: &str) -> Option<&'static [FieldInfo]> {
    Some(match collection {
        "contacts" => Contact::FIELDS,
        "visits" => Visit::FIELDS,
        "todos" => Todo::FIELDS,
        "opportunities" => Opportunity::FIELDS,
        _ => return None,
    })
}

/// The kind of the field at a path (`credit.credit_limit`, `visits.<id>.summary`,
/// `sales.2026-10`), if the schema knows it.
pub fn kind_of(path: &str) -> Option<FieldKind> {
    let parts: Vec<&str> = path.split('.').collect();
    let find = |fields: &'static [FieldInfo], key: &str| {
        fields.iter().find(|f| f.key == key).map(|f| f.kind)
    };
    match parts.as_slice() {
        ["territory"] => Some(FieldKind::Str),
        ["notes"] => Some(FieldKind::Text),
        ["sales", _] => Some(FieldKind::Money),
        ["tags", _] => Some(FieldKind::Bool),
        [section, key] => section_fields(section).and_then(|f| find(f, key)),
        [collection, _, key] => collection_fields(collection).and_then(|f| find(f, key)),
        _ => None,
    }
}

/// Find an item by id in a collection.
fn item_mut<'a, T>(
    items: &'a mut [Keyed<T>],
    kind: &'static str,
    id: &str,
) -> Result<&'a mut Keyed<T>> {
    items
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or_else(|| Error::ItemNotFound {
            kind,
            id: id.to_string(),
        })
}

impl Card {
    /// An empty card with a fresh id.
    pub fn new() -> Card {
        Card::with_id(CardId::random())
    }

    /// An empty card with the given id.
    pub fn with_id(id: CardId) -> Card {
        Card {
            id,
            territory: None,
            basic: Default::default(),
            characteristics: Default::default(),
            business: Default::default(),
            transaction: Default::default(),
            credit: Default::default(),
            operating: Default::default(),
            marketing: Default::default(),
            classification: Default::default(),
            location: Default::default(),
            notes: Default::default(),
            contacts: vec![],
            visits: vec![],
            todos: vec![],
            opportunities: vec![],
            sales: BTreeMap::new(),
            tags: BTreeSet::new(),
        }
    }

    /// The customer's name, or a placeholder for a card without one.
    pub fn display_name(&self) -> &str {
        self.basic.name.as_deref().unwrap_or("(未命名客户)")
    }

    /// Log a visit; returns its id.
    pub fn add_visit(&mut self, visit: Visit) -> String {
        let id = new_item_id();
        self.visits.push(Keyed {
            id: id.clone(),
            value: visit,
        });
        id
    }

    /// Add a contact; returns its id.
    pub fn add_contact(&mut self, contact: Contact) -> String {
        let id = new_item_id();
        self.contacts.push(Keyed {
            id: id.clone(),
            value: contact,
        });
        id
    }

    /// Add a to-do; returns its id.
    pub fn add_todo(&mut self, todo: Todo) -> String {
        let id = new_item_id();
        self.todos.push(Keyed {
            id: id.clone(),
            value: todo,
        });
        id
    }

    /// Add an opportunity; returns its id.
    pub fn add_opportunity(&mut self, opportunity: Opportunity) -> String {
        let id = new_item_id();
        self.opportunities.push(Keyed {
            id: id.clone(),
            value: opportunity,
        });
        id
    }

    /// Remove an item from a collection (`contacts`, `visits`, `todos`, `opportunities`).
    pub fn remove_item(&mut self, collection: &str, id: &str) -> Result<()> {
        fn remove<T>(items: &mut Vec<Keyed<T>>, kind: &'static str, id: &str) -> Result<()> {
            let before = items.len();
            items.retain(|i| i.id != id);
            if items.len() == before {
                Err(Error::ItemNotFound {
                    kind,
                    id: id.to_string(),
                })
            } else {
                Ok(())
            }
        }
        match collection {
            "contacts" => remove(&mut self.contacts, "contact", id),
            "visits" => remove(&mut self.visits, "visit", id),
            "todos" => remove(&mut self.todos, "to-do", id),
            "opportunities" => remove(&mut self.opportunities, "opportunity", id),
            other => Err(Error::UnknownField(other.to_string())),
        }
    }

    /// Set a field from what a person typed; an empty input clears it.
    ///
    /// Paths: `territory`, `notes`, `<section>.<field>`,
    /// `<collection>.<item id>.<field>`, `sales.<YYYY-MM>`, `tags.<tag>` (yes/no).
    pub fn set_path(&mut self, path: &str, input: &str) -> Result<()> {
        let parts: Vec<&str> = path.split('.').collect();
        match parts.as_slice() {
            ["territory"] => {
                let v = String::parse(input).map_err(field::invalid_at(path))?;
                self.territory = (!v.is_empty()).then_some(v);
                Ok(())
            }
            ["notes"] => {
                self.notes = <LongText as field::DocField>::parse_input(input)
                    .map_err(field::invalid_at(path))?;
                Ok(())
            }
            ["sales", month] => {
                let month: YearMonth = month.parse()?;
                if input.trim().is_empty() {
                    self.sales.remove(&month);
                } else {
                    let amount = Money::parse(input).map_err(field::invalid_at(path))?;
                    self.sales.insert(month, amount);
                }
                Ok(())
            }
            ["tags", tag] => {
                let on = input.trim().is_empty()
                    || bool::parse(input).map_err(field::invalid_at(path))?;
                if on {
                    self.tags.insert((*tag).to_string());
                } else {
                    self.tags.remove(*tag);
                }
                Ok(())
            }
            ["basic", key] => self.basic.set_input(key, input, path),
            ["characteristics", key] => self.characteristics.set_input(key, input, path),
            ["business", key] => self.business.set_input(key, input, path),
            ["transaction", key] => self.transaction.set_input(key, input, path),
            ["credit", key] => self.credit.set_input(key, input, path),
            ["operating", key] => self.operating.set_input(key, input, path),
            ["marketing", key] => self.marketing.set_input(key, input, path),
            ["classification", key] => self.classification.set_input(key, input, path),
            ["location", key] => self.location.set_input(key, input, path),
            ["contacts", id, key] => item_mut(&mut self.contacts, "contact", id)?
                .value
                .set_input(key, input, path),
            ["visits", id, key] => item_mut(&mut self.visits, "visit", id)?
                .value
                .set_input(key, input, path),
            ["todos", id, key] => item_mut(&mut self.todos, "to-do", id)?
                .value
                .set_input(key, input, path),
            ["opportunities", id, key] => item_mut(&mut self.opportunities, "opportunity", id)?
                .value
                .set_input(key, input, path),
            _ => Err(Error::UnknownField(path.to_string())),
        }
    }

    /// Show a field's current value; `Ok(None)` when empty.
    pub fn get_path(&self, path: &str) -> Result<Option<String>> {
        let parts: Vec<&str> = path.split('.').collect();
        fn item<T: Record>(
            items: &[Keyed<T>],
            kind: &'static str,
            id: &str,
            key: &str,
        ) -> Result<Option<String>> {
            items
                .iter()
                .find(|i| i.id == id)
                .ok_or_else(|| Error::ItemNotFound {
                    kind,
                    id: id.to_string(),
                })?
                .value
                .get_display(key)
        }
        match parts.as_slice() {
            ["territory"] => Ok(self.territory.clone()),
            ["notes"] => Ok(field::DocField::show(&self.notes)),
            ["sales", month] => Ok(self.sales.get(&month.parse()?).map(Scalar::display)),
            ["tags", tag] => Ok(self.tags.contains(*tag).then(|| "yes".to_string())),
            ["basic", key] => self.basic.get_display(key),
            ["characteristics", key] => self.characteristics.get_display(key),
            ["business", key] => self.business.get_display(key),
            ["transaction", key] => self.transaction.get_display(key),
            ["credit", key] => self.credit.get_display(key),
            ["operating", key] => self.operating.get_display(key),
            ["marketing", key] => self.marketing.get_display(key),
            ["classification", key] => self.classification.get_display(key),
            ["location", key] => self.location.get_display(key),
            ["contacts", id, key] => item(&self.contacts, "contact", id, key),
            ["visits", id, key] => item(&self.visits, "visit", id, key),
            ["todos", id, key] => item(&self.todos, "to-do", id, key),
            ["opportunities", id, key] => item(&self.opportunities, "opportunity", id, key),
            _ => Err(Error::UnknownField(path.to_string())),
        }
        .map_err(|e| match e {
            Error::UnknownField(_) => Error::UnknownField(path.to_string()),
            other => other,
        })
    }

    /// The most recent visit, by time.
    pub fn last_visit(&self) -> Option<&Keyed<Visit>> {
        self.visits
            .iter()
            .filter(|v| v.at.is_some())
            .max_by_key(|v| v.at)
    }
}

impl Default for Card {
    fn default() -> Self {
        Card::new()
    }
}
