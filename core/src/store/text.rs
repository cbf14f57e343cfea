//! Text preparation for search and sorting, CJK included.
//!
//! SQLite FTS5 offers no tokenizer that handles Chinese well on its own:
//! `unicode61` takes a whole run of Chinese characters as one token, and `trigram`
//! cannot match queries shorter than three characters, while two-character words
//! (客户, 上海, 华东) are the commonest in Chinese. So the store keeps two indexes:
//! a trigram index over all searchable text (any substring of 3+ characters, Latin
//! and phone fragments included), and a "grams" index over the short identifying
//! fields (names, contacts, address, tags) in which every CJK character and every
//! pair of adjacent CJK characters is its own token. Queries of one or two
//! characters go to the grams index; longer ones to the trigram index.

use pinyin::ToPinyin;

/// Whether a character is CJK (Han, kana, hangul), where words are not space-separated.
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF | 0x20000..=0x2A6DF | 0x2A700..=0x2EBEF)
}

/// Fold case and full-width forms, so `ＡＢＣ１２３` matches `abc123`.
pub(crate) fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The searchable terms of a query: whitespace-separated, normalised, and only
/// those with a letter or digit in them (punctuation alone matches nothing).
pub(crate) fn search_terms(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .map(normalize)
        .filter(|t| t.chars().any(char::is_alphanumeric))
        .collect()
}

/// The digits of a phone number, so `021-6234 5678` is found by `62345678`.
pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Tokens for the grams index: each CJK character and each adjacent pair, and each
/// Latin/digit word, space-separated.
pub(crate) fn grams(text: &str) -> String {
    let text = normalize(text);
    let mut out = String::new();
    let mut push = |tok: &str| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(tok);
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_cjk(c) {
            push(&c.to_string());
            if let Some(&next) = chars.get(i + 1)
                && is_cjk(next)
            {
                push(&[c, next].iter().collect::<String>());
            }
            i += 1;
        } else if c.is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() && !is_cjk(chars[i]) {
                i += 1;
            }
            push(&chars[start..i].iter().collect::<String>());
        } else {
            i += 1;
        }
    }
    out
}

/// A sort key that puts Chinese names in pinyin order among Latin names:
/// 北京 (bei jing) < 广州 (guang zhou) < 上海 (shang hai).
pub(crate) fn sort_key(name: &str) -> String {
    let mut key = String::new();
    for c in normalize(name).chars() {
        match c.to_pinyin() {
            Some(p) => {
                key.push_str(p.plain());
                // The character itself breaks ties between homophones deterministically.
                key.push(c);
            }
            None => key.push(c),
        }
    }
    key
}

/// An FTS5 string literal: the term in double quotes, inner quotes doubled, so user
/// input is never parsed as FTS5 query syntax.
pub(crate) fn fts_literal(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// The FTS5 expressions a query's terms must all match: a term of 3+ characters against
/// the trigram index, a shorter one against the grams index (every CJK unigram/bigram,
/// a Latin or digit fragment as a prefix). `None` when the query has no searchable term.
/// The one definition the device's lists and the server's manager index both use.
pub(crate) fn term_matches(query: &str) -> Option<Vec<crate::search::TermMatch>> {
    use crate::search::TermMatch;
    let terms = search_terms(query);
    if terms.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for term in &terms {
        if term.chars().count() >= 3 {
            out.push(TermMatch::Trigram(fts_literal(term)));
            continue;
        }
        let grams = grams(term);
        if grams.is_empty() {
            continue;
        }
        let tokens: Vec<String> = grams
            .split(' ')
            .map(|g| {
                let lit = fts_literal(g);
                // A short Latin/digit fragment matches words starting with it.
                if g.chars().any(is_cjk) {
                    lit
                } else {
                    format!("{lit}*")
                }
            })
            .collect();
        out.push(TermMatch::Grams(tokens.join(" AND ")));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_split_cjk_into_unigrams_and_bigrams() {
        assert_eq!(
            grams("上海华东 ACME-01"),
            "上 上海 海 海华 华 华东 东 acme 01"
        );
    }

    #[test]
    fn sort_key_orders_by_pinyin() {
        let mut names = vec!["上海贸易", "北京商行", "Apple", "广州百货"];
        names.sort_by_key(|n| sort_key(n));
        assert_eq!(names, vec!["Apple", "北京商行", "广州百货", "上海贸易"]);
    }

    #[test]
    fn punctuation_alone_is_no_search_term() {
        assert!(search_terms("-- … ！ 。，").is_empty());
        assert!(search_terms("   ").is_empty());
        assert_eq!(search_terms("客户 - 6234"), vec!["客户", "6234"]);
    }

    #[test]
    fn normalize_folds_full_width() {
        assert_eq!(normalize("ＡＢＣ１２３"), "abc123");
    }
}
