//! Search text and matching for indexes kept outside a device store (the server's
//! manager read model), so a manager's search finds exactly what a rep's phone finds.
//!
//! The logic is the device store's own (`store/text.rs`, `store/index.rs`): the same
//! identifying fields, the same unigram+bigram tokens for CJK, the same trigram body,
//! the same pinyin sort key and the same rule that a term of 1–2 characters goes to the
//! grams index and a longer one to the trigram index. These functions only expose it.

use crate::card::Card;
use crate::store::text;

/// What a card contributes to the two full-text indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchText {
    /// Everything searchable, normalised: for an FTS5 `trigram` table.
    pub full: String,
    /// Unigram+bigram tokens of the identifying fields: for an FTS5 table with the
    /// default (`unicode61`) tokenizer.
    pub grams: String,
}

/// The search text of a card, as the device store indexes it.
pub fn search_text(card: &Card) -> SearchText {
    let (full, grams) = crate::store::index_text(card);
    SearchText { full, grams }
}

/// A pinyin-aware sort key for a name (北京 < 广州 < 上海).
pub fn sort_key(name: &str) -> String {
    text::sort_key(name)
}

/// One search term as an FTS5 `MATCH` expression, and the index it runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermMatch {
    /// Match against the trigram table ([`SearchText::full`]).
    Trigram(String),
    /// Match against the grams table ([`SearchText::grams`]).
    Grams(String),
}

/// The `MATCH` expressions of a query, one per term, every one of which a card must
/// match. `None`: the query has no searchable term (only punctuation), so it matches no
/// card. User input is quoted as FTS5 string literals, never parsed as query syntax.
pub fn term_matches(query: &str) -> Option<Vec<TermMatch>> {
    text::term_matches(query)
}
