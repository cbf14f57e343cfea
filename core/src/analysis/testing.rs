//! Test helpers shared by the analysis modules' tests.

use crate::ids::CardId;

/// A valid card id (a UUID) made from a short tag, so tests can name cards `"a"`,
/// `"c01"`; tags of the same length sort as their ids do.
pub(crate) fn card_id(tag: &str) -> CardId {
    assert!(tag.len() <= 6, "tags are at most 6 bytes");
    let hex: String = tag.bytes().map(|b| format!("{b:02x}")).collect();
    format!("00000000-0000-4000-8000-{hex:0>12}")
        .parse()
        .expect("a valid card id")
}
