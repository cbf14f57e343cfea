//! How one typed field is read from and written to an Automerge object.
//!
//! `DocField` (crate-private) is implemented for `Option<T: Scalar>` (a register: last writer
//! wins, concurrent writers become a visible conflict) and for [`LongText`] (an
//! Automerge Text object: concurrent edits interleave character by character).
//! The `record!` macro builds a struct of such fields together with its schema
//! table, its reader and its diff-writer, so a section is declared once.

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjId, ObjType, ReadDoc, Value};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::value::{FieldKind, Scalar, Stored};

/// Read either the current state or the state at some heads.
pub(crate) fn get<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<(Value<'static>, ObjId)> {
    let got = match heads {
        None => doc.get(obj, key),
        Some(h) => doc.get_at(obj, key, h),
    };
    got.ok().flatten().map(|(v, id)| (v.to_owned(), id))
}

/// Every entry of one map, read in a single pass.
///
/// Looking keys up one by one costs a seek per key; a record has dozens of keys
/// and a card dozens of records, so readers take the whole map at once.
pub(crate) struct MapView {
    entries: std::collections::HashMap<String, (Value<'static>, ObjId)>,
}

impl MapView {
    /// Read the map `obj` now (`heads: None`) or at `heads`.
    pub(crate) fn read<R: ReadDoc>(doc: &R, obj: &ObjId, heads: Option<&[ChangeHash]>) -> MapView {
        let mut entries = std::collections::HashMap::new();
        let mut add = |item: automerge::iter::MapRangeItem<'_>| {
            let id = item.id();
            entries.insert(item.key.into_owned(), (item.value.into_value(), id));
        };
        match heads {
            None => doc.map_range(obj, ..).for_each(&mut add),
            Some(h) => doc.map_range_at(obj, .., h).for_each(&mut add),
        }
        MapView { entries }
    }

    /// The value under `key` and its op or object id.
    pub(crate) fn get(&self, key: &str) -> Option<&(Value<'static>, ObjId)> {
        self.entries.get(key)
    }

    /// The keys, in no particular order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// A field of a record stored under one key of an Automerge map.
pub(crate) trait DocField: Clone + PartialEq + Default {
    /// The field kind, for schema listings.
    const KIND: FieldKind;
    /// Read the field from a view of its map; a missing or mistyped value reads as empty.
    fn read<R: ReadDoc>(doc: &R, view: &MapView, key: &str, heads: Option<&[ChangeHash]>) -> Self;
    /// Write `new` if it differs from `old`; returns whether anything was written.
    fn write<T: Transactable>(
        tx: &mut T,
        obj: &ObjId,
        key: &str,
        old: &Self,
        new: &Self,
    ) -> Result<bool> {
        if old == new {
            return Ok(false);
        }
        Self::force(tx, obj, key, new)?;
        Ok(true)
    }
    /// Write unconditionally, superseding every concurrent value (conflict resolution).
    fn force<T: Transactable>(tx: &mut T, obj: &ObjId, key: &str, new: &Self) -> Result<()>;
    /// Parse what a person typed (empty clears the field).
    fn parse_input(input: &str) -> std::result::Result<Self, String>;
    /// Show the value; `None` when empty.
    fn show(&self) -> Option<String>;
}

impl<S: Stored> DocField for Option<S> {
    const KIND: FieldKind = S::KIND;

    fn read<R: ReadDoc>(
        _doc: &R,
        view: &MapView,
        key: &str,
        _heads: Option<&[ChangeHash]>,
    ) -> Self {
        match view.get(key) {
            Some((Value::Scalar(s), _)) => S::from_scalar(s),
            _ => None,
        }
    }

    fn force<T: Transactable>(tx: &mut T, obj: &ObjId, key: &str, new: &Self) -> Result<()> {
        match new {
            Some(v) => tx.put(obj, key, v.to_scalar())?,
            None => tx.delete(obj, key)?,
        }
        Ok(())
    }

    fn parse_input(input: &str) -> std::result::Result<Self, String> {
        if input.trim().is_empty() {
            Ok(None)
        } else {
            S::parse(input).map(Some)
        }
    }

    fn show(&self) -> Option<String> {
        self.as_ref().map(Scalar::display)
    }
}

/// Free text written at length (notes, visit summaries): an Automerge Text object,
/// so two people editing it offline both keep their words.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LongText(pub String);

impl LongText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for LongText {
    fn from(s: &str) -> Self {
        LongText(s.to_string())
    }
}

impl std::fmt::Display for LongText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The longest free text accepted, in characters (a long visit report fits easily).
pub const MAX_TEXT_CHARS: usize = 100_000;

impl DocField for LongText {
    const KIND: FieldKind = FieldKind::Text;

    fn read<R: ReadDoc>(doc: &R, view: &MapView, key: &str, heads: Option<&[ChangeHash]>) -> Self {
        match view.get(key) {
            Some((Value::Object(ObjType::Text), id)) => {
                let text = match heads {
                    None => doc.text(id),
                    Some(h) => doc.text_at(id, h),
                };
                LongText(text.unwrap_or_default())
            }
            // A plain string where text is expected (an older writer): show it.
            Some((Value::Scalar(s), _)) => LongText(String::from_scalar(s).unwrap_or_default()),
            _ => LongText::default(),
        }
    }

    fn force<T: Transactable>(tx: &mut T, obj: &ObjId, key: &str, new: &Self) -> Result<()> {
        // Reuse the existing Text object so concurrent edits merge; creating a new
        // one would make two texts that conflict and hide each other.
        let text_obj = match tx.get(obj, key)? {
            Some((Value::Object(ObjType::Text), id)) => id,
            _ => tx.put_object(obj, key, ObjType::Text)?,
        };
        tx.update_text(&text_obj, &new.0)?;
        Ok(())
    }

    fn parse_input(input: &str) -> std::result::Result<Self, String> {
        if input.chars().count() > MAX_TEXT_CHARS {
            return Err(format!("longer than {MAX_TEXT_CHARS} characters"));
        }
        Ok(LongText(input.to_string()))
    }

    fn show(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.0.clone())
    }
}

/// One field of a record, as listed by the schema.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldInfo {
    /// The key in the document and the last part of the field path.
    pub key: &'static str,
    /// The label shown to people (Chinese, as in the source documents).
    pub label: &'static str,
    /// The kind of value.
    pub kind: FieldKind,
}

/// A struct of fields stored as one Automerge map: its schema, and its fields set
/// and shown as text. How it is read from and written to a document is
/// `RecordDoc`, crate-private, so no Automerge type appears here.
pub trait Record: Clone + PartialEq + Default {
    /// The fields, in display order.
    const FIELDS: &'static [FieldInfo];
    /// Set one field from what a person typed. `path` is only used in errors.
    fn set_input(&mut self, key: &str, input: &str, path: &str) -> Result<()>;
    /// Show one field; `Err` if the key is unknown.
    fn get_display(&self, key: &str) -> Result<Option<String>>;
}

/// How a [`Record`] is read from and written to its Automerge map.
pub(crate) trait RecordDoc: Record {
    /// Read every field of the map `obj`.
    fn read<R: ReadDoc>(doc: &R, obj: &ObjId, heads: Option<&[ChangeHash]>) -> Self {
        Self::read_view(doc, &MapView::read(doc, obj, heads), heads)
    }
    /// Read every field from a view of the map.
    fn read_view<R: ReadDoc>(doc: &R, view: &MapView, heads: Option<&[ChangeHash]>) -> Self;
    /// Write the fields that differ; push `prefix.key` of each written field to `touched`.
    fn write<T: Transactable>(
        tx: &mut T,
        obj: &ObjId,
        old: &Self,
        new: &Self,
        prefix: &str,
        touched: &mut Vec<String>,
    ) -> Result<()>;
    /// Write one field unconditionally from what a person typed (conflict resolution).
    fn force_input<T: Transactable>(
        tx: &mut T,
        obj: &ObjId,
        key: &str,
        input: &str,
        path: &str,
    ) -> Result<()>;
}

/// Declares a record struct with its schema and (de)serialisation to an Automerge map.
macro_rules! record {
    ($(#[$meta:meta])* $name:ident { $($(#[$fmeta:meta])* $field:ident : $ty:ty => $label:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $($(#[$fmeta])* #[serde(skip_serializing_if = "crate::card::field::is_default")] pub $field: $ty,)*
        }

        impl crate::card::field::Record for $name {
            const FIELDS: &'static [crate::card::field::FieldInfo] = &[
                $(crate::card::field::FieldInfo {
                    key: stringify!($field),
                    label: $label,
                    kind: <$ty as crate::card::field::DocField>::KIND,
                }),*
            ];

            fn set_input(&mut self, key: &str, input: &str, path: &str) -> crate::error::Result<()> {
                match key {
                    $(stringify!($field) => {
                        self.$field = <$ty as crate::card::field::DocField>::parse_input(input)
                            .map_err(|reason| crate::error::Error::invalid(path, reason))?;
                        Ok(())
                    })*
                    _ => Err(crate::error::Error::UnknownField(path.to_string())),
                }
            }

            fn get_display(&self, key: &str) -> crate::error::Result<Option<String>> {
                match key {
                    $(stringify!($field) => Ok(crate::card::field::DocField::show(&self.$field)),)*
                    _ => Err(crate::error::Error::UnknownField(key.to_string())),
                }
            }
        }

        impl crate::card::field::RecordDoc for $name {
            fn read_view<R: automerge::ReadDoc>(doc: &R, view: &crate::card::field::MapView, heads: Option<&[automerge::ChangeHash]>) -> Self {
                Self {
                    $($field: <$ty as crate::card::field::DocField>::read(doc, view, stringify!($field), heads),)*
                }
            }

            fn write<T: automerge::transaction::Transactable>(
                tx: &mut T,
                obj: &automerge::ObjId,
                old: &Self,
                new: &Self,
                prefix: &str,
                touched: &mut Vec<String>,
            ) -> crate::error::Result<()> {
                $(
                    if <$ty as crate::card::field::DocField>::write(tx, obj, stringify!($field), &old.$field, &new.$field)? {
                        touched.push(format!("{}.{}", prefix, stringify!($field)));
                    }
                )*
                Ok(())
            }

            fn force_input<T: automerge::transaction::Transactable>(
                tx: &mut T,
                obj: &automerge::ObjId,
                key: &str,
                input: &str,
                path: &str,
            ) -> crate::error::Result<()> {
                match key {
                    $(stringify!($field) => {
                        let value = <$ty as crate::card::field::DocField>::parse_input(input)
                            .map_err(|reason| crate::error::Error::invalid(path, reason))?;
                        <$ty as crate::card::field::DocField>::force(tx, obj, key, &value)
                    })*
                    _ => Err(crate::error::Error::UnknownField(path.to_string())),
                }
            }
        }
    };
}
pub(crate) use record;

/// For `skip_serializing_if`: leave empty fields out of JSON.
pub(crate) fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Map a parse failure on `path` to the crate error.
pub(crate) fn invalid_at(path: &str) -> impl FnOnce(String) -> Error + '_ {
    move |reason| Error::invalid(path, reason)
}
