//! The record `guix show` prints for a package, field for field: Guix's
//! `package->recutils` (name, version, outputs, systems, dependencies,
//! location, homepage, license, synopsis, description), with its filling
//! rules (Guix's own `fill-paragraph` for the lists, Guile's Texinfo
//! rendering for the description, see [`abovo_graph::texinfo`]) and recutils'
//! `+ ` continuation lines, then a blank line.
//!
//! The width is the terminal's (`COLUMNS`, else 80 off a terminal), less
//! two columns for the `+ ` prefix, as in Guix.

use abovo_graph::texinfo::to_plain_text_or_raw;

/// What `guix show` says of one package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ShowRecord {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its outputs (`out`, `lib`, …).
    pub outputs: Vec<String>,
    /// The systems it supports.
    pub systems: Vec<String>,
    /// Its explicit inputs (inputs, native inputs, propagated inputs) that
    /// are packages, as `name@version`.
    pub dependencies: Vec<String>,
    /// `file:line:column` of its definition.
    pub location: String,
    /// Its home page.
    pub homepage: String,
    /// Its licences' names.
    pub licenses: Vec<String>,
    /// Its synopsis, as written (Texinfo).
    pub synopsis: String,
    /// Its description, as written (Texinfo).
    pub description: String,
}

/// What `guix show` says of the common outputs, when a package says
/// nothing of its own (`out` alone is "everything").
const OUTPUT_SYNOPSES: &[(&str, &str)] = &[
    ("bin", "executable programs and scripts"),
    ("debug", "debug information"),
    ("doc", "documentation"),
    ("lib", "shared libraries"),
    ("static", "static libraries"),
    ("out", "everything else"),
];

/// Guix's `fill-paragraph`: `text` filled to `width` columns, its first
/// character at `column`. A single newline between other characters
/// becomes a space (two after a full stop); longer runs are kept.
pub fn fill_paragraph(text: &str, width: usize, column: usize) -> String {
    let mut column = column;
    let mut newlines = 0usize;
    let mut chars: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\n' {
            newlines += 1;
            continue;
        }
        match newlines {
            0 => {}
            1 => {
                let spaces = if chars.last() == Some(&'.') { 2 } else { 1 };
                chars.extend(std::iter::repeat_n(' ', spaces));
                column += spaces;
            }
            n => {
                chars.extend(std::iter::repeat_n('\n', n));
                column = 0;
            }
        }
        newlines = 0;
        chars.push(c);
        column += 1;
        if column > width {
            // Break before the word being written, if it fits on a line.
            let start = chars.iter().rposition(|&c| c == ' ').map_or(0, |i| i + 1);
            let len = chars.len() - start;
            if len <= width {
                if start > 0 {
                    let word: Vec<char> = chars.split_off(start);
                    while chars.last() == Some(&' ') {
                        chars.pop();
                    }
                    chars.push('\n');
                    chars.extend(word);
                }
                column = len;
            }
        }
    }
    chars.into_iter().collect()
}

/// recutils' multi-line field values: every newline followed by `+ `.
pub fn string_to_recutils(text: &str) -> String {
    text.replace('\n', "\n+ ")
}

/// The `outputs:` lines: `out` last, each with what it holds.
fn output_lines(outputs: &[String]) -> String {
    let mut ordered: Vec<&str> = outputs
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "out")
        .collect();
    if outputs.iter().any(|o| o == "out") {
        ordered.push("out");
    }
    if ordered == ["out"] {
        return "+ out: everything\n".to_owned();
    }
    ordered
        .iter()
        .map(|o| {
            let what = OUTPUT_SYNOPSES
                .iter()
                .find(|(k, _)| k == o)
                .map_or("[description missing]", |(_, v)| v);
            format!("+ {o}: {what}\n")
        })
        .collect()
}

/// The record `guix show` prints for `r` on a terminal `width` columns
/// wide, blank line included.
pub fn record(r: &ShowRecord, width: usize) -> String {
    let inner = if width > 2 { width - 2 } else { width };
    let split =
        |text: &str, field: &str| string_to_recutils(&fill_paragraph(text, inner, field.len()));
    let mut deps: Vec<&str> = r.dependencies.iter().map(String::as_str).collect();
    deps.sort_unstable();
    deps.dedup();
    let synopsis = to_plain_text_or_raw(&r.synopsis, inner).replace('\n', " ");
    let description = to_plain_text_or_raw(&format!("description: {}", r.description), inner);
    let mut o = String::new();
    o.push_str(&format!("name: {}\n", r.name));
    o.push_str(&format!("version: {}\n", r.version));
    o.push_str(&format!("outputs:\n{}", output_lines(&r.outputs)));
    o.push_str(&format!(
        "systems: {}\n",
        split(&r.systems.join(" "), "systems: ")
    ));
    o.push_str(&format!(
        "dependencies: {}\n",
        split(&deps.join(" "), "dependencies: ")
    ));
    let location = if r.location.is_empty() {
        "unknown"
    } else {
        &r.location
    };
    o.push_str(&format!("location: {location}\n"));
    // Guix writes the home page with `~a`: a package without one (`#f`,
    // the bootstrap binaries) shows `#f`.
    let homepage = if r.homepage.is_empty() {
        "#f"
    } else {
        &r.homepage
    };
    o.push_str(&format!("homepage: {homepage}\n"));
    o.push_str(&format!("license: {}\n", r.licenses.join(", ")));
    o.push_str(&format!("synopsis: {synopsis}\n"));
    o.push_str(&string_to_recutils(description.trim_end_matches('\n')));
    o.push_str("\n\n");
    o
}

/// The width `guix show` fills to: `COLUMNS` when it is a number, else
/// the terminal's width on a terminal, else 80.
pub fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return n;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(w, _)| usize::from(w.0))
        .filter(|&n| n > 0)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_fill_like_guix() {
        let deps = "at-spi2-core@2.52.0 cairo@1.18.4 colord-minimal@1.4.6 cups@2.4.14";
        assert_eq!(
            string_to_recutils(&fill_paragraph(deps, 78, 14)),
            "at-spi2-core@2.52.0 cairo@1.18.4 colord-minimal@1.4.6\n+ cups@2.4.14"
        );
        // A newline is a space, two after a full stop; two are kept.
        assert_eq!(fill_paragraph("a.\nb\nc\n\nd", 78, 0), "a.  b c\n\nd");
        // A word longer than the width stays whole.
        assert_eq!(fill_paragraph("abcdefghij k", 4, 0), "abcdefghij\nk");
    }

    #[test]
    fn outputs_list_out_last_with_what_each_holds() {
        let o =
            |list: &[&str]| output_lines(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(o(&["out"]), "+ out: everything\n");
        assert_eq!(
            o(&["bin", "out", "rust-src"]),
            "+ bin: executable programs and scripts\n+ rust-src: [description missing]\n+ out: everything else\n"
        );
    }
}
