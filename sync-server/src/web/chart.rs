//! Charts as server-rendered SVG: a grouped bar chart (one group per period, one bar per
//! series), so trends read from a picture without any script on the page.
//!
//! The SVG is built here from numbers and escaped text only, which is why a template may
//! insert it unescaped. Colours are CSS classes (`s0`…`s7` in the stylesheet), not inline
//! styles, so the page's Content-Security-Policy needs no `unsafe-inline`. The `viewBox`
//! lets it scale to the width of a laptop or a tablet.

use std::fmt::Write;

/// One series: a name (a rep) and one value per category (period).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    /// Shown in the legend.
    pub name: String,
    /// One value per category, in category order (missing ones count as 0).
    pub values: Vec<u64>,
}

/// A finished SVG document fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svg(String);

impl Svg {
    /// The markup.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Svg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const WIDTH: u32 = 720;
const HEIGHT: u32 = 280;
const LEFT: u32 = 44;
const RIGHT: u32 = 8;
const TOP: u32 = 12;
const BOTTOM: u32 = 48;
const COLOURS: usize = 8;

/// Text escaped for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in super::text::shown(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The smallest "nice" axis maximum (1, 2, 5 × 10ⁿ) at or above `max`.
fn nice_ceiling(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let v = step.saturating_mul(m);
            if v >= max {
                return v.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// A grouped bar chart of `series` over `categories`, titled `title` (for screen readers).
pub fn bar_chart(title: &str, categories: &[String], series: &[Series]) -> Svg {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(title),
        escape(title)
    );
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    if categories.is_empty() || series.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="empty" x="{}" y="{}" text-anchor="middle">无数据</text></svg>"#,
            WIDTH / 2,
            HEIGHT / 2
        );
        return Svg(svg);
    }
    let top = nice_ceiling(max);
    // Grid lines and y axis labels at whole numbers: the nice maximum split in 4 or 5
    // equal steps, or fewer when it is that small (2 is 0, 1, 2; never 0, 0, 1, 1, 2).
    let steps = [4u64, 5, 2, 1]
        .into_iter()
        .find(|n| top.is_multiple_of(*n))
        .unwrap_or(1);
    for i in 0..=steps {
        let value = top * i / steps;
        let y = f64::from(TOP) + f64::from(plot_h) * (1.0 - i as f64 / steps as f64);
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{value}</text>"#,
            WIDTH - RIGHT,
            LEFT - 6,
            y + 4.0
        );
    }
    let group_w = f64::from(plot_w) / categories.len() as f64;
    let bar_w = (group_w * 0.8) / series.len() as f64;
    for (ci, category) in categories.iter().enumerate() {
        let gx = f64::from(LEFT) + group_w * ci as f64 + group_w * 0.1;
        for (si, s) in series.iter().enumerate() {
            let v = s.values.get(ci).copied().unwrap_or(0);
            let h = f64::from(plot_h) * v as f64 / top as f64;
            let x = gx + bar_w * si as f64;
            let y = f64::from(TOP) + f64::from(plot_h) - h;
            let _ = write!(
                svg,
                r#"<rect class="bar s{}" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}"><title>{} · {}: {v}</title></rect>"#,
                si % COLOURS,
                (bar_w - 1.0).max(1.0),
                escape(&s.name),
                escape(category)
            );
        }
        // Label every category when they fit, else every n-th.
        let every = categories.len().div_ceil(12);
        if ci % every == 0 {
            let _ = write!(
                svg,
                r#"<text class="axis" x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
                gx + group_w * 0.4,
                HEIGHT - BOTTOM + 16,
                escape(category)
            );
        }
    }
    // The legend, one swatch per series along the bottom.
    let mut lx = f64::from(LEFT);
    for (si, s) in series.iter().enumerate() {
        let name = escape(&s.name);
        let _ = write!(
            svg,
            r#"<rect class="bar s{}" x="{lx:.1}" y="{}" width="10" height="10"/><text class="legend" x="{:.1}" y="{}">{name}</text>"#,
            si % COLOURS,
            HEIGHT - 18,
            lx + 14.0,
            HEIGHT - 9
        );
        lx += 24.0 + 13.0 * s.name.chars().count().min(12) as f64;
    }
    svg.push_str("</svg>");
    Svg(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    #[test]
    fn one_bar_per_series_and_category_scaled_to_a_nice_maximum() {
        let categories: Vec<String> = ["11-01", "11-02", "11-03"].map(String::from).to_vec();
        let series = vec![
            Series {
                name: "张伟".into(),
                values: vec![3, 10, 0],
            },
            Series {
                name: "李娜".into(),
                values: vec![5, 1, 2],
            },
        ];
        let svg = bar_chart("拜访次数", &categories, &series);
        let s = svg.as_str();
        // 6 bars + 2 legend swatches.
        assert_eq!(count(s, r#"<rect class="bar"#), 8);
        assert_eq!(count(s, "<title>张伟 · "), 3);
        // 10 is the axis maximum: its bar is the whole plot height (280 - 12 - 48).
        assert!(
            s.contains(r#"height="220.0"><title>张伟 · 11-02: 10</title>"#),
            "{s}"
        );
        assert!(s.contains(r#"height="0.0"><title>张伟 · 11-03: 0</title>"#));
        assert!(s.contains(">10</text>") && s.contains(">4</text>"));
    }

    /// The y axis labels of a chart whose largest value is `max`.
    fn axis_labels(max: u64) -> Vec<u64> {
        let svg = bar_chart(
            "t",
            &["d".to_owned()],
            &[Series {
                name: "s".into(),
                values: vec![max],
            }],
        );
        svg.as_str()
            .split(r#"text-anchor="end">"#)
            .skip(1)
            .filter_map(|t| t.split('<').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn axis_labels_are_distinct_whole_numbers() {
        assert_eq!(axis_labels(2), [0, 1, 2]);
        assert_eq!(axis_labels(1), [0, 1]);
        assert_eq!(axis_labels(4), [0, 1, 2, 3, 4, 5]);
        assert_eq!(axis_labels(10), [0, 2, 4, 6, 8, 10]);
        assert_eq!(axis_labels(17), [0, 5, 10, 15, 20]);
    }

    #[test]
    fn text_in_a_chart_is_escaped() {
        let svg = bar_chart(
            "<b>",
            &["\"><script>alert(1)</script>".into()],
            &[Series {
                name: "<img src=x onerror=alert(1)>\u{1b}[31m".into(),
                values: vec![1],
            }],
        );
        let s = svg.as_str();
        assert!(!s.contains("<script") && !s.contains("<img") && !s.contains("<b>"));
        assert!(s.contains("&lt;img src=x onerror=alert(1)&gt;␛[31m"));
        assert!(s.contains("&quot;&gt;&lt;script&gt;"));
    }

    #[test]
    fn no_data_says_so() {
        let s = bar_chart("拜访次数", &[], &[]);
        assert!(s.as_str().contains("无数据"));
        assert_eq!(count(s.as_str(), "<rect"), 0);
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(
            [0, 1, 3, 7, 10, 11, 49, 51, 999].map(nice_ceiling),
            [1, 1, 5, 10, 10, 20, 50, 100, 1000]
        );
    }
}
