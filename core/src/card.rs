//! The customer card (客户资料卡): a typed view of one Automerge document.
//!
//! [`Card`] is plain data. The store reads it from the document, hands it to an
//! edit closure, and writes back only the fields that changed (`doc::write_card`),
//! so each Automerge change touches exactly what the rep edited and history stays
//! readable. Generic field paths (`basic.phone`, `contacts.<id>.mobile`) serve the
//! CLI, conflict lists and history.

pub mod conflicts;
pub(crate) mod doc;
pub mod field;
mod lean;
pub mod rules;
pub mod sections;
pub(crate) mod three_way;
pub mod validate;
pub mod values;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};

use serde::Serialize;

pub use field::{FieldInfo, LongText, Record};
pub use lean::LeanCard;
pub use sections::*;
pub use validate::{check_visit_people, validate_card_doc, write_skeleton};
pub use values::{CollectionValues, FieldValue, ItemValues, SectionValues, path_label};

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

/// The one list of a card's sections: `field of Card: its record type => label`.
/// Every card-level dispatch (paths, schema, reading, writing, resolving) is
/// generated from it by passing a macro that receives the list, so a section added
/// here is added everywhere and none can be forgotten.
macro_rules! with_sections {
    ($callback:ident) => {
        $callback! {
            basic: BasicData => "基础资料",
            characteristics: Characteristics => "客户特征",
            business: BusinessStatus => "业务状况",
            transaction: TransactionStatus => "交易现状",
            credit: CreditData => "信用资料",
            operating: OperatingData => "经营资料",
            marketing: MarketingInfo => "营销信息",
            classification: Classification => "客户分类",
            location: Location => "位置与路线",
        }
    };
}
pub(crate) use with_sections;

/// The one list of a card's item collections: `field of Card: item type, what one
/// item is called in errors, how it is stored (`map` keyed by item id, or `list`
/// for the visit log that two phones append to offline) => label`.
macro_rules! with_collections {
    ($callback:ident) => {
        $callback! {
            contacts: Contact, "contact", map => "联系人",
            visits: Visit, "visit", list => "跟踪记录",
            todos: Todo, "to-do", map => "待办事务",
            opportunities: Opportunity, "opportunity", map => "销售机会",
        }
    };
}
pub(crate) use with_collections;

/// Root keys of a card that are neither a section nor a collection.
pub const SINGLE_KEYS: &[&str] = &["territory", "notes", "sales", "tags"];

macro_rules! section_consts {
    ($($key:ident : $ty:ident => $label:literal,)*) => {
        /// The sections of a card by key, for generic field paths.
        pub const SECTIONS: &[(&str, &str)] = &[$((stringify!($key), $label),)*];

        fn section_fields(section: &str) -> Option<&'static [FieldInfo]> {
            match section {
                $(stringify!($key) => Some($ty::FIELDS),)*
                _ => None,
            }
        }
    };
}
with_sections!(section_consts);

macro_rules! collection_consts {
    ($($key:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
        /// The item collections of a card by key.
        pub const COLLECTIONS: &[(&str, &str)] = &[$((stringify!($key), $label),)*];

        fn collection_fields(collection: &str) -> Option<&'static [FieldInfo]> {
            match collection {
                $(stringify!($key) => Some($ty::FIELDS),)*
                _ => None,
            }
        }
    };
}
with_collections!(collection_consts);

/// Whether `key` is a root key of a card (a section, a collection or a single key),
/// i.e. whether a path starting with it can name something on a card.
pub fn is_root_key(key: &str) -> bool {
    SINGLE_KEYS.contains(&key)
        || SECTIONS.iter().any(|(k, _)| *k == key)
        || COLLECTIONS.iter().any(|(k, _)| *k == key)
}

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
        macro_rules! dispatch {
            ($($key:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
                match collection {
                    $(stringify!($key) => remove(&mut self.$key, $kind, id),)*
                    other => Err(Error::UnknownField(other.to_string())),
                }
            };
        }
        with_collections!(dispatch)
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
            [section, key] => self.set_section_input(section, key, input, path),
            [collection, id, key] => self.set_item_input(collection, id, key, input, path),
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
            [section, key] => {
                macro_rules! dispatch {
                    ($($s:ident : $ty:ident => $label:literal,)*) => {
                        match *section {
                            $(stringify!($s) => self.$s.get_display(key),)*
                            _ => Err(Error::UnknownField(path.to_string())),
                        }
                    };
                }
                with_sections!(dispatch)
            }
            [collection, id, key] => {
                macro_rules! dispatch {
                    ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
                        match *collection {
                            $(stringify!($c) => item(&self.$c, $kind, id, key),)*
                            _ => Err(Error::UnknownField(path.to_string())),
                        }
                    };
                }
                with_collections!(dispatch)
            }
            _ => Err(Error::UnknownField(path.to_string())),
        }
        .map_err(|e| match e {
            Error::UnknownField(_) => Error::UnknownField(path.to_string()),
            other => other,
        })
    }

    fn set_section_input(
        &mut self,
        section: &str,
        key: &str,
        input: &str,
        path: &str,
    ) -> Result<()> {
        macro_rules! dispatch {
            ($($s:ident : $ty:ident => $label:literal,)*) => {
                match section {
                    $(stringify!($s) => self.$s.set_input(key, input, path),)*
                    _ => Err(Error::UnknownField(path.to_string())),
                }
            };
        }
        with_sections!(dispatch)
    }

    fn set_item_input(
        &mut self,
        collection: &str,
        id: &str,
        key: &str,
        input: &str,
        path: &str,
    ) -> Result<()> {
        macro_rules! dispatch {
            ($($c:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
                match collection {
                    $(stringify!($c) => item_mut(&mut self.$c, $kind, id)?
                        .value
                        .set_input(key, input, path),)*
                    _ => Err(Error::UnknownField(path.to_string())),
                }
            };
        }
        with_collections!(dispatch)
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
