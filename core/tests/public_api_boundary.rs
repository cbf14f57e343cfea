//! Keeps ARCHITECTURE.md's invariant true: raw Automerge and SQLite types never
//! leave core's public API, except the few server-side entry points listed in
//! [`ALLOWED`].
//!
//! This is a textual check of core's own source files, not a compiler query (the
//! stable toolchain has no public-API listing). What it checks, in every file
//! under `core/src` outside `#[cfg(test)]` modules:
//! - the signature of every `pub fn` (up to its body or `;`), every `pub type`,
//!   `pub const`, `pub static` and `pub use`;
//! - every `pub` field (named, or of a tuple struct on the same line);
//! - the whole body of every `pub enum` (its variants are public) and `pub trait`.
//!
//! An item fails when it names `automerge::…` or `rusqlite::…`, or a name the file
//! imports from those crates (`use automerge::{ObjId, Value}` makes `ObjId` and
//! `Value` suspect in that file). `pub(crate)` and `pub(super)` items are not
//! public and are not checked. The check is deliberately stricter than Rust's
//! reachability: a `pub` item in a private module must be written `pub(crate)` if
//! it names these types, so that making the module public cannot leak them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The documented exceptions (ARCHITECTURE.md, "core"): server-side validation,
/// guard and document-building entry points that take or return Automerge
/// documents, because the server keeps documents in that form. `(file, item)`.
const ALLOWED: &[(&str, &str)] = &[
    ("card/validate.rs", "validate_card_doc"),
    ("card/validate.rs", "check_visit_people"),
    ("card/validate.rs", "write_skeleton"),
    ("guard.rs", "load_bounded"),
    ("guard.rs", "load_incremental_bounded"),
    ("guard.rs", "apply_checked"),
    ("store/view.rs", "card_view"),
    ("history.rs", "summarize_changes"),
    ("history/stages.rs", "stage_changes"),
];

/// One public item that names a foreign type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Leak {
    file: String,
    line: usize,
    item: String,
    text: String,
}

/// The names a file imports from automerge or rusqlite (the last segment of each
/// path in a `use automerge::…;`/`use rusqlite::…;` statement, or its `as` rename).
fn foreign_names(src: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut lines = src.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        let Some(rest) = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|p| line.strip_prefix(p))
        else {
            continue;
        };
        if !(rest.starts_with("automerge::") || rest.starts_with("rusqlite::")) {
            continue;
        }
        let mut stmt = rest.to_string();
        while !stmt.contains(';') {
            match lines.next() {
                Some(more) => stmt.push_str(more),
                None => break,
            }
        }
        let stmt = stmt.split(';').next().unwrap_or("");
        for part in stmt.split([',', '{', '}']) {
            let part = part.trim();
            let name = match part.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => part.rsplit("::").next().unwrap_or(part).trim(),
            };
            if !name.is_empty() && name != "self" && name != "*" {
                names.insert(name.to_string());
            }
        }
    }
    names
}

/// The source without `#[cfg(test)]` modules (removed up to the closing brace at
/// the module's indentation), as numbered lines.
fn without_test_modules(src: &str) -> Vec<(usize, &str)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[cfg(test)]" {
            let mut j = i + 1;
            while j < lines.len() && lines[j].trim_start().starts_with("#[") {
                j += 1;
            }
            let decl = lines.get(j).copied().unwrap_or("");
            let is_mod = decl.trim_start().starts_with("mod ")
                || decl.trim_start().starts_with("pub(crate) mod ")
                || decl.trim_start().starts_with("pub mod ");
            if is_mod && decl.trim_end().ends_with('{') {
                let indent = &decl[..decl.len() - decl.trim_start().len()];
                let close = format!("{indent}}}");
                let mut k = j + 1;
                while k < lines.len() && lines[k] != close {
                    k += 1;
                }
                i = k + 1;
                continue;
            }
        }
        out.push((i + 1, lines[i]));
        i += 1;
    }
    out
}

/// Whether `text` names a foreign type: a qualified path, or a whole-word
/// occurrence of a name the file imports from automerge or rusqlite.
fn names_foreign(text: &str, foreign: &BTreeSet<String>) -> bool {
    if text.contains("automerge::") || text.contains("rusqlite::") {
        return true;
    }
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .any(|word| foreign.contains(word))
}

/// The name of the item declared by `decl` (`pub fn name(`, `pub struct Name {`).
fn item_name(decl: &str) -> String {
    let words = decl
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let mut take = false;
    for w in words {
        if take {
            return w.to_string();
        }
        if matches!(
            w,
            "fn" | "struct" | "enum" | "trait" | "type" | "const" | "static"
        ) {
            take = true;
        }
    }
    decl.trim().to_string()
}

/// Every public item of one file that names a foreign type.
fn leaks_in(file: &str, src: &str) -> Vec<Leak> {
    let foreign = foreign_names(src);
    let lines = without_test_modules(src);
    let mut leaks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (line_no, line) = lines[i];
        let trimmed = line.trim_start();
        let code = trimmed.split("//").next().unwrap_or("");
        let indent = &line[..line.len() - trimmed.len()];
        let keyword = code.strip_prefix("pub ").map(|rest| {
            rest.trim_start_matches("async ")
                .trim_start_matches("unsafe ")
        });
        let Some(rest) = keyword else {
            i += 1;
            continue;
        };
        let kind = rest.split_whitespace().next().unwrap_or("");
        // The text that is public: a signature, a declaration, or a whole body.
        let (text, item, end) = match kind {
            "fn" | "type" | "const" | "static" | "use" => {
                let mut text = String::new();
                let mut j = i;
                loop {
                    let part = lines[j].1.split("//").next().unwrap_or("");
                    let (before, done) = match part.find(['{', ';']) {
                        Some(at) if kind == "fn" || part.as_bytes()[at] == b';' => {
                            (&part[..at], true)
                        }
                        _ => (part, false),
                    };
                    text.push_str(before);
                    text.push(' ');
                    if done || j + 1 >= lines.len() {
                        break;
                    }
                    j += 1;
                }
                let item = if kind == "use" {
                    text.trim().to_string()
                } else {
                    item_name(code)
                };
                (text, item, j)
            }
            "enum" | "trait" | "struct" => {
                let close = format!("{indent}}}");
                let mut j = i;
                if code.trim_end().ends_with('{') {
                    while j + 1 < lines.len() && lines[j].1 != close {
                        j += 1;
                    }
                }
                let body: Vec<&str> = lines[i..=j]
                    .iter()
                    .map(|(_, l)| l.split("//").next().unwrap_or(""))
                    .collect();
                let text = if kind == "struct" {
                    // Private fields are not API: only the declaration line (a tuple
                    // struct's public fields) and `pub` fields count.
                    let decl = body[0];
                    let decl = if decl.contains("(pub ") || decl.contains("pub(") {
                        decl.to_string()
                    } else {
                        decl.split('(').next().unwrap_or(decl).to_string()
                    };
                    let fields = body[1..]
                        .iter()
                        .filter(|l| l.trim_start().starts_with("pub "))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(" ");
                    format!("{decl} {fields}")
                } else {
                    body.join(" ")
                };
                // Struct bodies' `pub` fields are checked here, so skip past them;
                // enum and trait bodies too.
                (text, item_name(code), j)
            }
            _ => {
                // A `pub` field of a struct declared elsewhere (e.g. in a macro).
                (code.to_string(), code.trim().to_string(), i)
            }
        };
        if names_foreign(&text, &foreign) {
            leaks.push(Leak {
                file: file.to_string(),
                line: line_no,
                item,
                text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            });
        }
        i = end + 1;
    }
    leaks
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read core/src")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every leak in core's sources, allowed or not.
fn all_leaks() -> Vec<Leak> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 10, "found core's sources");
    let mut leaks = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).expect("read source");
        let rel = path
            .strip_prefix(&root)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        leaks.extend(leaks_in(&rel, &src));
    }
    leaks
}

#[test]
fn no_automerge_or_rusqlite_type_in_core_public_api() {
    let leaks = all_leaks();
    let unexpected: Vec<&Leak> = leaks
        .iter()
        .filter(|l| !ALLOWED.contains(&(l.file.as_str(), l.item.as_str())))
        .collect();
    assert!(
        unexpected.is_empty(),
        "public items of fieldbook-core name automerge/rusqlite types; make them \
         pub(crate), wrap the type, or (server-side entry points only) list them in \
         ALLOWED and ARCHITECTURE.md:\n{unexpected:#?}"
    );
}

/// The allowed list names items that exist and still need the exception, so it
/// cannot silently grow stale (an exception that no longer leaks is removed).
#[test]
fn every_allowed_exception_is_still_needed() {
    let leaks = all_leaks();
    for (file, item) in ALLOWED {
        assert!(
            leaks.iter().any(|l| l.file == *file && l.item == *item),
            "{file}: {item} is allowed but no longer names an automerge/rusqlite type"
        );
    }
}

/// The check itself catches each shape of leak it claims to.
#[test]
fn the_check_catches_each_kind_of_leak() {
    let src = r#"
use automerge::{ObjId, Value as AmValue};
use rusqlite::Connection;

pub fn qualified() -> automerge::ChangeHash { todo() }
pub fn imported(
    obj: &ObjId,
) -> u8 { 0 }
pub struct Fields {
    pub conn: Connection,
    private: ObjId,
}
pub struct Tuple(pub AmValue);
pub enum E {
    Am(automerge::AutomergeError),
}
pub trait T {
    fn to(&self) -> AmValue;
}
pub use automerge::ReadDoc;
pub(crate) fn hidden() -> ObjId { todo() }
pub struct Fine {
    hidden: Connection,
}
pub fn fine(x: u8) -> Objects { todo() }

#[cfg(test)]
mod tests {
    pub fn in_tests() -> automerge::ChangeHash { todo() }
}
"#;
    let found: Vec<String> = leaks_in("x.rs", src).into_iter().map(|l| l.item).collect();
    assert_eq!(
        found,
        [
            "qualified",
            "imported",
            "Fields",
            "Tuple",
            "E",
            "T",
            "pub use automerge::ReadDoc"
        ]
    );
}
