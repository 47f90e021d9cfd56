//! Text report helpers: counts with thousands separators, plurals, sizes
//! with their source, and tables whose columns are as wide as their
//! content (a cell too long for its column goes on a line of its own, so
//! that the columns after it stay aligned).

use super::human_bytes;
use crate::output::sanitize;
use std::borrow::Cow;

/// `30574` → `30,574`.
pub fn count(n: impl Into<u64>) -> String {
    let digits = n.into().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1 seed`, `2 seeds`, `30,574 packages`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{} {}", count(n as u64), if n == 1 { one } else { many })
}

/// `1 mismatch`, `12345 items`: [`plural`] with the digits as they are
/// (no thousands separators), for summary lines that scripts also read.
pub fn plain_plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The first line of a text report: its title in bold (`style` applies
/// the ANSI style on a terminal, nothing elsewhere).
pub fn title_line(style: &dyn Fn(&str, &str) -> String, title: &str) -> String {
    format!("{}\n", style("1", title))
}

/// A path for a terminal: the labels, each sanitized, joined by ` → `.
pub fn arrows<'a>(labels: impl IntoIterator<Item = &'a str>) -> String {
    let labels: Vec<Cow<'a, str>> = labels.into_iter().map(sanitize).collect();
    labels.join(ARROW)
}

/// What joins the steps of a path in the reports.
pub const ARROW: &str = " → ";

/// A size for people (`1.4 KiB`), or `unknown`.
pub fn size_or_unknown(size: Option<u64>) -> String {
    size.map_or_else(|| "unknown".to_owned(), human_bytes)
}

/// A known size with where it came from (`357 B, from the bytes`), or
/// `unknown`.
pub fn size_with_source(size: Option<u64>, source: &str) -> String {
    match size {
        Some(s) => format!("{} ({source})", human_bytes(s)),
        None => "unknown".to_owned(),
    }
}

/// How much of a group's size is known: `4.2 MiB`, `4.2 MiB known, 3 of
/// unknown size`, or `sizes unknown`.
pub fn size_summary(known_bytes: u64, unknown: usize, total: usize) -> String {
    if total > 0 && unknown == total {
        if total == 1 {
            "size unknown".to_owned()
        } else {
            "sizes unknown".to_owned()
        }
    } else if unknown == 0 {
        human_bytes(known_bytes)
    } else {
        format!(
            "{} known, {} of unknown size",
            human_bytes(known_bytes),
            count(unknown as u64)
        )
    }
}

/// `items` joined by `, ` over lines of at most `width` characters (an
/// item longer than a line gets one of its own): the first line starts with
/// `first`, the others with `rest` (same width, usually spaces).
pub fn wrap_list(first: &str, rest: &str, items: &[String], max: usize) -> String {
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for (i, item) in items.iter().enumerate() {
        let sep = if i + 1 < items.len() { "," } else { "" };
        let piece = format!("{item}{sep}");
        if !empty && width(&line) + 1 + width(&piece) > max {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&piece);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Pad on the right.
    Left,
    /// Pad on the left (numbers).
    Right,
}

/// A table printed with computed column widths.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<(Align, usize)>,
    rows: Vec<Vec<(String, &'static str)>>,
}

fn width(s: &str) -> usize {
    s.chars().count()
}

impl Table {
    /// A table whose columns have these alignments and widest widths
    /// (a longer cell goes on its own line; the last column is never
    /// broken, nor padded on the right).
    pub fn new(columns: &[(Align, usize)]) -> Table {
        Table {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A table of a name (left-aligned) and `numbers` columns of numbers
    /// (right-aligned), none cut.
    pub fn name_and_numbers(numbers: usize) -> Table {
        let mut columns = vec![(Align::Left, usize::MAX)];
        columns.resize(numbers + 1, (Align::Right, usize::MAX));
        Table::new(&columns)
    }

    /// Adds a row of `(text, ANSI style)` cells (`""`: no style).
    pub fn row(&mut self, cells: Vec<(String, &'static str)>) {
        self.rows.push(cells);
    }

    /// Adds a row of plain cells: the column names.
    pub fn header(&mut self, names: &[&str]) {
        self.row(names.iter().map(|n| ((*n).to_owned(), "")).collect());
    }

    /// Renders every row, each line starting with `indent`; `paint` applies
    /// a style to text already padded.
    pub fn render(&self, indent: &str, paint: &dyn Fn(&str, &str) -> String) -> String {
        // One buffer for the whole table: a seeds report has thousands of
        // rows, and a string per cell was most of the cost of printing it.
        let widths = self.widths();
        let mut out = String::new();
        for row in &self.rows {
            self.write_row(&mut out, row, &widths, indent, paint);
        }
        out
    }

    /// [`Table::render`], one string per row (a row whose long cell broke
    /// holds several lines), each ending with a newline: for reports that
    /// put lines of their own after some rows.
    pub fn render_rows(&self, indent: &str, paint: &dyn Fn(&str, &str) -> String) -> Vec<String> {
        let widths = self.widths();
        let mut rows = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let mut out = String::new();
            self.write_row(&mut out, row, &widths, indent, paint);
            rows.push(out);
        }
        rows
    }

    /// The width of each column: its widest cell that fits its limit.
    fn widths(&self) -> Vec<usize> {
        let n = self.columns.len();
        let mut widths = vec![0usize; n];
        for row in &self.rows {
            for (c, (text, _)) in row.iter().enumerate().take(n) {
                let w = width(text);
                if w <= self.columns[c].1 {
                    widths[c] = widths[c].max(w);
                }
            }
        }
        widths
    }

    /// Appends one row's lines to `out`.
    fn write_row(
        &self,
        out: &mut String,
        row: &[(String, &'static str)],
        widths: &[usize],
        indent: &str,
        paint: &dyn Fn(&str, &str) -> String,
    ) {
        let n = self.columns.len();
        let mut line_start = out.len();
        out.push_str(indent);
        let mut col_start = width(indent);
        let last = row.len().min(n).saturating_sub(1);
        for (c, (text, style)) in row.iter().enumerate().take(n) {
            let (w, align) = (width(text), self.columns[c].0);
            if c > 0 {
                out.push_str("  ");
                col_start += 2;
            }
            if c == last {
                // Never padded on the right; numbers still line up.
                let pad = match align {
                    Align::Right => widths[c].saturating_sub(w),
                    Align::Left => 0,
                };
                push_cell(out, text, pad, align, style, paint);
                break;
            }
            if w > widths[c] {
                // Too long: alone on its line, the row goes on below.
                push_cell(out, text, 0, align, style, paint);
                end_line(out, line_start);
                col_start += widths[c];
                line_start = out.len();
                out.extend(std::iter::repeat_n(' ', col_start));
                continue;
            }
            push_cell(out, text, widths[c] - w, align, style, paint);
            col_start += widths[c];
        }
        end_line(out, line_start);
    }
}

/// Appends `text` with `pad` spaces on the side `align` pads, painted in
/// `style` (padding included) unless that is `""`.
fn push_cell(
    out: &mut String,
    text: &str,
    pad: usize,
    align: Align,
    style: &str,
    paint: &dyn Fn(&str, &str) -> String,
) {
    if !style.is_empty() {
        let mut cell = String::with_capacity(text.len() + pad);
        push_cell(&mut cell, text, pad, align, "", paint);
        out.push_str(&paint(style, &cell));
        return;
    }
    let spaces = std::iter::repeat_n(' ', pad);
    match align {
        Align::Left => {
            out.push_str(text);
            out.extend(spaces);
        }
        Align::Right => {
            out.extend(spaces);
            out.push_str(text);
        }
    }
}

/// Ends the line that starts at `line_start` in `out`: without trailing
/// spaces, with a newline.
fn end_line(out: &mut String, line_start: usize) {
    let kept = out[line_start..].trim_end().len();
    out.truncate(line_start + kept);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_plurals() {
        assert_eq!(count(0u64), "0");
        assert_eq!(count(357u64), "357");
        assert_eq!(count(1000u64), "1,000");
        assert_eq!(count(30574u64), "30,574");
        assert_eq!(count(1234567u64), "1,234,567");
        assert_eq!(plural(1, "seed", "seeds"), "1 seed");
        assert_eq!(plural(0, "seed", "seeds"), "0 seeds");
        assert_eq!(plural(10073, "leaf", "leaves"), "10,073 leaves");
        assert_eq!(arrows(["a", "b\u{1b}"]), "a → b\\u{1b}");
        assert_eq!(size_or_unknown(None), "unknown");
        assert_eq!(size_or_unknown(Some(1434)), "1.4 KiB");
        assert_eq!(size_with_source(None, "x"), "unknown");
        assert_eq!(size_with_source(Some(357), "bytes"), "357 B (bytes)");
        assert_eq!(size_summary(0, 6, 6), "sizes unknown");
        assert_eq!(size_summary(0, 1, 1), "size unknown");
        assert_eq!(size_summary(2048, 0, 3), "2.0 KiB");
        assert_eq!(size_summary(2048, 1, 3), "2.0 KiB known, 1 of unknown size");
    }

    #[test]
    fn lists_wrap_at_the_width() {
        let items: Vec<String> = ["alpha", "beta", "gamma", "delta"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            wrap_list("  leaves: ", "          ", &items, 24),
            "  leaves: alpha, beta,\n          gamma, delta\n"
        );
        assert_eq!(wrap_list("x: ", "   ", &items[..1], 5), "x: alpha\n");
    }

    #[test]
    fn columns_fit_their_content_and_long_cells_break() {
        let mut t = Table::new(&[(Align::Right, 99), (Align::Left, 10), (Align::Left, 99)]);
        t.row(vec![
            ("30,568".into(), ""),
            ("short".into(), ""),
            ("a".into(), ""),
        ]);
        t.row(vec![
            ("1".into(), ""),
            ("a name far too long".into(), ""),
            ("b".into(), ""),
        ]);
        let plain = |_: &str, s: &str| s.to_owned();
        let out = t.render("  ", &plain);
        assert_eq!(
            out,
            "  30,568  short  a\n       1  a name far too long\n                 b\n"
        );
        // Every last cell starts in the same column.
        let cols: Vec<usize> = out
            .lines()
            .filter(|l| l.ends_with('a') || l.ends_with('b'))
            .map(|l| l.len() - 1)
            .collect();
        assert_eq!(cols, [17, 17]);
    }

    /// A style covers the padded cell, an unstyled cell is never painted,
    /// and the rows rendered apart are the table rendered whole.
    #[test]
    fn styles_cover_padding_and_rows_render_alike() {
        let mut t = Table::new(&[(Align::Left, 8), (Align::Right, 99), (Align::Left, 99)]);
        t.row(vec![
            ("ab".into(), "1"),
            ("7".into(), ""),
            ("x".into(), "2"),
        ]);
        t.row(vec![
            ("far too long".into(), ""),
            ("1,234".into(), "3"),
            ("".into(), ""),
        ]);
        let paint = |style: &str, s: &str| format!("<{style}|{s}>");
        let out = t.render(" ", &paint);
        assert_eq!(
            out,
            " <1|ab>      7  <2|x>\n far too long\n     <3|1,234>\n"
        );
        assert_eq!(t.render_rows(" ", &paint).concat(), out);
    }
}
