//! The renderers of the reports: one module per report, each holding its
//! text, JSON and HTML forms and a `write` that prints the form asked for,
//! so that commands only gather the data and choose the form.
//!
//! | module | report |
//! | --- | --- |
//! | [`seeds`] | `abovo seeds TARGET` |
//! | [`audit`] | `abovo audit` |
//! | [`history`] | `seeds --against` and `audit --against` (with the `--fail-on` guard) |
//!
//! What they share: [`trust`] (the text parts every trust report prints
//! alike), [`signers`] (who signed a seed's bytes), [`packages`] (a seed's
//! package trail, alike in text and HTML), [`text`] (counts, plurals,
//! sizes, aligned tables) and [`json`] (the JSON layout of every answer:
//! serde_json's pretty printer with arrays of numbers on one line);
//! [`json_object`] writes an object in that layout field by field, its
//! large arrays rendered on every core.
//! [`recutils`] writes `abovo show`'s records.
//!
//! HTML reports are self-contained: one file, inline CSS and SVG, no
//! scripts from anywhere and no network access, so a report can be mailed,
//! archived or opened offline and shows the same thing. [`page`] wraps a
//! body in the common page ([`page_start`] and [`PAGE_END`] for a page
//! written piece by piece); [`esc`] escapes text ([`Esc`] as it is
//! formatted); [`tree_svg`] draws the paths from a target to its seeds;
//! [`bar_chart`] draws horizontal bars.

pub mod audit;
pub mod history;
mod in_order;
pub mod json;
pub mod json_object;
pub mod packages;
pub mod recutils;
pub mod seeds;
pub mod signers;
pub mod text;
pub mod trust;

use std::fmt::Write as _;

/// Escapes text for HTML element content and attribute values: the
/// markup characters, and control characters (shown as `\u{1b}`), so
/// that names from data neither open tags nor carry terminal escapes (see
/// [`crate::output::markup_escape`]).
pub fn esc(s: &str) -> String {
    crate::output::markup_escape(s).into_owned()
}

/// Text escaped as [`esc`] escapes it, as it is formatted: for a page
/// written piece by piece, without a string made for each piece.
pub struct Esc<'a>(pub &'a str);

impl std::fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::output::markup_escape(self.0))
    }
}

/// Sizes for people: `357 B`, `1.4 KiB`, `62.3 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1d1d1f;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
.sub{color:#555}code,.mono{font-family:ui-monospace,monospace;font-size:.9em}
table{border-collapse:collapse;width:100%;margin:.6em 0}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f5f5f7}td.num{text-align:right;white-space:nowrap}
.k{display:inline-block;padding:0 .45em;border-radius:.6em;font-size:.85em;color:#fff}
.k-binary{background:#c0392b}.k-source-with-binaries{background:#d35400}.k-generated{background:#8e44ad}.k-source{background:#27ae60}.k-unknown{background:#7f8c8d}
.why{color:#444;font-size:.9em}.path{color:#555;font-size:.85em}
details{margin:.3em 0}svg text{font:11px ui-monospace,monospace}
";

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    // Sized up front: `format!` sizes its string by the literal text alone,
    // and grew it by doubling to a large report's megabytes.
    let mut page = String::with_capacity(body.len() + STYLE.len() + 1024);
    page.push_str(&page_start(title));
    page.push_str(body);
    page.push_str(PAGE_END);
    page
}

/// What comes before the body of a [`page`], for a writer that writes the
/// body as it renders it.
pub fn page_start(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(title)
    )
}

/// What comes after the body of a [`page`].
pub const PAGE_END: &str = "\n<p class=\"sub\">Written by abovo. This page is self-contained: \
     it loads nothing from the network.</p></body></html>\n";

/// A kind badge.
pub fn kind_badge(kind: &str) -> String {
    format!("<span class=\"k k-{0}\">{0}</span>", esc(kind))
}

/// Colour of a kind in pictures.
pub fn kind_colour(kind: &str) -> &'static str {
    match kind {
        "binary" => "#c0392b",
        "source-with-binaries" => "#d35400",
        "generated" => "#8e44ad",
        "source" => "#27ae60",
        _ => "#7f8c8d",
    }
}

/// A node of a tree picture.
pub struct TreeNode {
    /// Its label.
    pub label: String,
    /// Its tooltip (the store path).
    pub title: String,
    /// Its colour.
    pub colour: &'static str,
    /// Its children, by index.
    pub children: Vec<usize>,
}

/// Draws a tree rooted at node 0 left to right: depth along x, leaves one
/// per row, a parent in the middle of its children.
pub fn tree_svg(nodes: &[TreeNode]) -> String {
    if nodes.is_empty() {
        return String::new();
    }
    let mut depth = vec![0usize; nodes.len()];
    let mut y = vec![0f64; nodes.len()];
    let mut next_row = 0f64;
    // Iterative post-order: place leaves in order, parents between children.
    let mut stack = vec![(0usize, false)];
    while let Some((n, done)) = stack.pop() {
        if done || nodes[n].children.is_empty() {
            if nodes[n].children.is_empty() {
                y[n] = next_row;
                next_row += 1.0;
            } else {
                let ys: Vec<f64> = nodes[n].children.iter().map(|&c| y[c]).collect();
                y[n] = (ys[0] + ys[ys.len() - 1]) / 2.0;
            }
            continue;
        }
        stack.push((n, true));
        for &c in nodes[n].children.iter().rev() {
            depth[c] = depth[n] + 1;
            stack.push((c, false));
        }
    }
    let max_depth = depth.iter().copied().max().unwrap_or(0);
    let (col, row, pad) = (190.0, 22.0, 12.0);
    let width = (max_depth as f64 + 1.0) * col + 2.0 * pad;
    let height = next_row.max(1.0) * row + 2.0 * pad;
    let pos = |n: usize| (pad + depth[n] as f64 * col, pad + y[n] * row + row / 2.0);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" viewBox=\"0 0 {width:.0} {height:.0}\" role=\"img\">"
    );
    for (n, node) in nodes.iter().enumerate() {
        let (x1, y1) = pos(n);
        for &c in &node.children {
            let (x2, y2) = pos(c);
            let _ = write!(
                s,
                "<path d=\"M{:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}\" fill=\"none\" stroke=\"#bbb\"/>",
                x1 + 6.0,
                x1 + col / 2.0,
                x2 - col / 2.0
            );
        }
    }
    for (n, node) in nodes.iter().enumerate() {
        let (x, y) = pos(n);
        let mut label = node.label.clone();
        if label.chars().count() > 26 {
            label = label.chars().take(25).collect::<String>() + "…";
        }
        let _ = write!(
            s,
            "<g><title>{}</title><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"5\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
            esc(&node.title),
            node.colour,
            x + 8.0,
            y + 4.0,
            esc(&label)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars: `(label, value, colour)`, scaled to the largest value.
pub fn bar_chart(bars: &[(String, u64, &'static str)], unit: &str) -> String {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let (label_w, bar_w, row) = (300.0, 560.0, 20.0);
    let height = bars.len() as f64 * row + 10.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0}\" height=\"{height:.0}\" role=\"img\">",
        label_w + bar_w + 120.0
    );
    for (i, (label, v, colour)) in bars.iter().enumerate() {
        let y = 5.0 + i as f64 * row;
        let w = (*v as f64 / max * bar_w).max(1.0);
        let mut l = label.clone();
        if l.chars().count() > 40 {
            l = l.chars().take(39).collect::<String>() + "…";
        }
        let _ = write!(
            s,
            "<g><title>{}: {v} {unit}</title><text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{:.0}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{v}</text></g>",
            esc(label),
            label_w - 6.0,
            y + 13.0,
            esc(&l),
            label_w,
            row - 5.0,
            label_w + w + 4.0,
            y + 13.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_sizes() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("a\u{1b}]0;t\u{7}b"), "a\\u{1b}]0;t\\u{7}b");
        assert_eq!(human_bytes(357), "357 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 << 20), "5.0 MiB");
    }

    #[test]
    fn tree_places_parents_between_children() {
        let n = |label: &str, children: Vec<usize>| TreeNode {
            label: label.into(),
            title: label.into(),
            colour: "#000",
            children,
        };
        let svg = tree_svg(&[n("root", vec![1, 2]), n("a", vec![]), n("b<c", vec![])]);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("b&lt;c"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<path").count(), 2);
    }
}
