//! How text from users is shown: as text, whatever it holds.
//!
//! Templates escape HTML; this module handles what escaping does not: control characters.
//! A terminal escape (`ESC [ 31m`) or a NUL in a card field is shown as its visible Unicode
//! "control picture" (␛, ␀), so it can neither recolour a terminal that prints a CSV
//! download nor hide text on a page.

/// `s` with every control character except tab and newline replaced by its visible
/// control picture (U+2400 + code; DEL as U+2421).
pub fn shown(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            '\u{80}'..='\u{9f}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(shown("上海\u{1b}[31m红\u{7f}"), "上海␛[31m红␡");
        assert_eq!(shown("a\u{0}b\u{9b}c\td\n"), "a␀b\u{fffd}c\td\n");
        assert_eq!(shown("<script>"), "<script>");
    }
}
