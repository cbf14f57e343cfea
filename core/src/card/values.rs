//! A card as labelled values, section by section and item by item, for front ends that
//! render every section from the schema instead of knowing each field (the FFI and the
//! phone apps' editors). Each value is in the text form [`Card::set_path`] accepts, so
//! an editor writes back what it shows; `display` adds the label of a choice.

use serde::Serialize;

use super::rules::choice_label;
use super::{COLLECTIONS, Card, FieldInfo, SECTIONS, collection_fields, section_fields};
use crate::value::FieldKind;

/// One set field of a card or an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldValue {
    /// The full path: `basic.phone`, `contacts.<id>.mobile`.
    pub path: String,
    /// The field's key, the last part of the path.
    pub key: &'static str,
    /// The label shown to people (Chinese, as in the source documents).
    pub label: &'static str,
    /// The kind of value, which decides the editor.
    pub kind: FieldKind,
    /// The value in the form [`Card::set_path`] accepts.
    pub value: String,
    /// The value as shown: a choice's label, else the value.
    pub display: String,
}

/// A section with its set fields, in schema order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SectionValues {
    /// The section's key (`basic`).
    pub key: &'static str,
    /// Its label (基础资料).
    pub label: &'static str,
    /// The fields that have a value.
    pub fields: Vec<FieldValue>,
}

/// One item of a collection with its set fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemValues {
    /// The item's id.
    pub id: String,
    /// The fields that have a value.
    pub fields: Vec<FieldValue>,
}

/// A collection (contacts, visits, to-dos, opportunities) with its items, in card order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionValues {
    /// The collection's key (`contacts`).
    pub key: &'static str,
    /// Its label (联系人).
    pub label: &'static str,
    /// The items.
    pub items: Vec<ItemValues>,
}

macro_rules! item_ids_fn {
    ($($key:ident : $ty:ident, $kind:literal, $store:ident => $label:literal,)*) => {
        /// The ids of a collection's items, in card order.
        fn item_ids(card: &Card, collection: &str) -> Vec<String> {
            match collection {
                $(stringify!($key) => card.$key.iter().map(|i| i.id.clone()).collect(),)*
                _ => Vec::new(),
            }
        }
    };
}
super::with_collections!(item_ids_fn);

impl Card {
    /// Every section with the fields that have a value.
    pub fn section_values(&self) -> Vec<SectionValues> {
        SECTIONS
            .iter()
            .map(|(key, label)| SectionValues {
                key,
                label,
                fields: values(self, key, section_fields(key).unwrap_or(&[])),
            })
            .collect()
    }

    /// Every collection with its items' set fields.
    pub fn collection_values(&self) -> Vec<CollectionValues> {
        COLLECTIONS
            .iter()
            .map(|(key, label)| {
                let fields = collection_fields(key).unwrap_or(&[]);
                let items = item_ids(self, key)
                    .into_iter()
                    .map(|id| ItemValues {
                        fields: values(self, &format!("{key}.{id}"), fields),
                        id,
                    })
                    .collect();
                CollectionValues { key, label, items }
            })
            .collect()
    }
}

/// A field path as people read it: `basic.phone` is "基础资料 · 电话",
/// `contacts.<id>.mobile` is "联系人 · 手机". `None` for a path outside the sections and
/// collections (`territory`, `tags.…`), which a front end shows as it is.
pub fn path_label(path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let head = parts.next()?;
    let (label, fields, key) = if let Some((_, label)) = SECTIONS.iter().find(|(k, _)| *k == head) {
        (*label, section_fields(head)?, parts.next()?)
    } else {
        let (_, label) = COLLECTIONS.iter().find(|(k, _)| *k == head)?;
        let _item = parts.next()?;
        (*label, collection_fields(head)?, parts.next()?)
    };
    let field = fields.iter().find(|f| f.key == key)?;
    Some(format!("{label} · {}", field.label))
}

fn values(card: &Card, prefix: &str, fields: &'static [FieldInfo]) -> Vec<FieldValue> {
    fields
        .iter()
        .filter_map(|f| {
            let path = format!("{prefix}.{}", f.key);
            let value = card.get_path(&path).ok().flatten()?;
            let display = match choice_label(f.key, &value) {
                Some(label) if f.kind == FieldKind::Choice => label.to_string(),
                _ => value.clone(),
            };
            Some(FieldValue {
                path,
                key: f.key,
                label: f.label,
                kind: f.kind,
                value,
                display,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{Contact, Visit};

    #[test]
    fn paths_read_as_labels() {
        assert_eq!(
            path_label("basic.phone").as_deref(),
            Some("基础资料 · 电话")
        );
        let contact = path_label("contacts.c1.mobile").expect("a contact's field");
        assert!(contact.starts_with("联系人 · "), "{contact}");
        assert_eq!(path_label("territory"), None);
        assert_eq!(path_label("basic.no_such_field"), None);
        assert_eq!(path_label("contacts.c1"), None);
    }

    #[test]
    fn values_round_trip_through_set_path() {
        let mut card = Card::new();
        card.set_path("basic.name", "上海华东客户服务有限公司")
            .expect("name");
        card.set_path("credit.credit_limit", "50000.00")
            .expect("limit");
        card.set_path("classification.abc", "A").expect("class");
        let contact = card.add_contact(Contact {
            name: Some("王经理".into()),
            ..Default::default()
        });
        card.add_visit(Visit::default());
        let sections = card.section_values();
        let basic = sections.iter().find(|s| s.key == "basic").expect("basic");
        assert_eq!(basic.label, "基础资料");
        assert_eq!(basic.fields[0].value, "上海华东客户服务有限公司");
        let class = sections
            .iter()
            .flat_map(|s| &s.fields)
            .find(|f| f.path == "classification.abc")
            .expect("class");
        assert_eq!((class.value.as_str(), class.kind), ("A", FieldKind::Choice));
        let mut copy = Card::new();
        for f in sections.iter().flat_map(|s| &s.fields) {
            copy.set_path(&f.path, &f.value)
                .expect("what is shown can be written back");
        }
        assert_eq!(copy.section_values(), sections);
        let collections = card.collection_values();
        let contacts = &collections[0];
        assert_eq!(
            (contacts.key, contacts.items[0].id.as_str()),
            ("contacts", contact.as_str())
        );
        assert_eq!(
            contacts.items[0].fields[0].path,
            format!("contacts.{contact}.name")
        );
        assert_eq!(
            collections[1].items.len(),
            1,
            "a visit with no field set is still listed"
        );
    }
}
