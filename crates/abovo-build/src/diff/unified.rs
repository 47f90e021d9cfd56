//! Unified diffs of two texts, as GNU `diff -u` writes them: three lines of
//! context, changes less than seven unchanged lines apart in one hunk,
//! `@@ -start,count +start,count @@` headers (a count of one left out, an
//! empty range numbered by the line before it), and `\ No newline at end
//! of file` after a last line without one.
//!
//! The lines are matched by imara-diff's Histogram algorithm, git's, whose
//! heuristics keep two unrelated 4 MiB texts from costing quadratic time;
//! the hunks are laid out here.

use imara_diff::{Algorithm, Diff, Hunk, InternedInput};
use std::fmt::Write as _;
use std::ops::Range;

/// Unchanged lines shown before and after each change.
const CONTEXT: u32 = 3;

/// The unified diff from `old` to `new`, its header naming `a/{name}` and
/// `b/{name}` (`name` as given: the caller escapes it). Empty when the
/// texts are equal.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    // Lines with their newlines: a last line without one differs from
    // the same line with one.
    let input = InternedInput::new(old, new);
    let mut diff = Diff::compute(Algorithm::Histogram, &input);
    // Slides each change to where a person would put it (blank lines and
    // closing braces after it rather than before), as git does.
    diff.postprocess_lines(&input);
    let changes: Vec<Hunk> = diff.hunks().collect();
    if changes.is_empty() {
        return String::new();
    }
    let mut out = format!("--- a/{name}\n+++ b/{name}\n");
    let line = |token| input.interner[token];
    let old_len = input.before.len() as u32;
    for group in groups(&changes) {
        let (first, last) = (&group[0], &group[group.len() - 1]);
        // Context lines are unchanged, so as many precede (and follow) the
        // changes on both sides.
        let before = first.before.start.min(CONTEXT);
        let after = (old_len - last.before.end).min(CONTEXT);
        let old_range = first.before.start - before..last.before.end + after;
        let new_range = first.after.start - before..last.after.end + after;
        let _ = writeln!(out, "@@ -{} +{} @@", range(&old_range), range(&new_range));
        let mut at = old_range.start;
        for change in group {
            for &t in &input.before[at as usize..change.before.start as usize] {
                push_line(&mut out, ' ', line(t));
            }
            for &t in &input.before[span(&change.before)] {
                push_line(&mut out, '-', line(t));
            }
            for &t in &input.after[span(&change.after)] {
                push_line(&mut out, '+', line(t));
            }
            at = change.before.end;
        }
        for &t in &input.before[at as usize..old_range.end as usize] {
            push_line(&mut out, ' ', line(t));
        }
    }
    out
}

/// The changes cut into hunks: a change joins the previous one's hunk when
/// at most twice [`CONTEXT`] unchanged lines lie between them (their
/// context would meet).
fn groups(changes: &[Hunk]) -> impl Iterator<Item = &[Hunk]> {
    changes.chunk_by(|a, b| b.before.start - a.before.end <= 2 * CONTEXT)
}

/// A hunk header's range, as `diff -u` numbers it: `start,count` from 1;
/// `start` alone for one line; for no line, the line before it and `,0`.
fn range(r: &Range<u32>) -> String {
    match r.end - r.start {
        0 => format!("{},0", r.start),
        1 => format!("{}", r.start + 1),
        n => format!("{},{n}", r.start + 1),
    }
}

fn span(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

/// One line of a hunk, marked; a last line without a newline is ended and
/// said so.
fn push_line(out: &mut String, mark: char, line: &str) {
    out.push(mark);
    out.push_str(line);
    if !line.ends_with('\n') {
        out.push_str("\n\\ No newline at end of file\n");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Applies a unified diff to `old`, checking every context and removed
    /// line against it: the text the diff says `new` is.
    fn apply(old: &str, diff: &str) -> String {
        let old: Vec<&str> = imara_diff::sources::lines(old).collect();
        let mut new = String::new();
        let mut at = 0;
        let mut lines = diff.split_inclusive('\n').skip(2).peekable();
        while let Some(header) = lines.next() {
            let start: usize = header
                .strip_prefix("@@ -")
                .and_then(|h| h.split([',', ' ']).next())
                .unwrap()
                .parse()
                .unwrap();
            let start = if header.starts_with(&format!("@@ -{start},0 ")) {
                start
            } else {
                start - 1
            };
            new.extend(old[at..start].iter().copied());
            at = start;
            while let Some(l) = lines.next_if(|l| !l.starts_with("@@")) {
                let (mark, text) = l.split_at(1);
                let mut text = text.to_owned();
                if lines.next_if(|n| n.starts_with('\\')).is_some() {
                    text.pop();
                }
                match mark {
                    " " | "-" => {
                        assert_eq!(old[at], text, "{diff}");
                        at += 1;
                        if mark == " " {
                            new.push_str(&text);
                        }
                    }
                    "+" => new.push_str(&text),
                    _ => panic!("{l:?} in {diff}"),
                }
            }
        }
        new.extend(old[at..].iter().copied());
        new
    }

    #[test]
    fn as_gnu_diff_writes_it() {
        let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
        let new = "1\ntwo\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12";
        // `diff -u --label a/f --label b/f`, byte for byte.
        assert_eq!(
            unified_diff(old, new, "f"),
            "--- a/f\n+++ b/f\n@@ -1,5 +1,5 @@\n 1\n-2\n+two\n 3\n 4\n 5\n\
             @@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+12\n\\ No newline at end of file\n"
        );
        // Six unchanged lines apart: one hunk.
        let new = "1\ntwo\n3\n4\n5\n6\n7\n8\nnine\n10\n11\n12\n";
        assert_eq!(
            unified_diff(old, new, "f"),
            "--- a/f\n+++ b/f\n@@ -1,12 +1,12 @@\n 1\n-2\n+two\n 3\n 4\n 5\n 6\n 7\n 8\n\
             -9\n+nine\n 10\n 11\n 12\n"
        );
        // Into an empty file, and one line only.
        assert_eq!(
            unified_diff("", "x\n", "f"),
            "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n"
        );
        assert_eq!(unified_diff("same\n", "same\n", "f"), "");
    }

    #[test]
    fn unrelated_large_texts_stay_fast() {
        let old: String = (0..40_000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..40_000).map(|i| format!("b{i}\n")).collect();
        let started = std::time::Instant::now();
        let diff = unified_diff(&old, &new, "f");
        assert_eq!(apply(&old, &diff), new);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    proptest! {
        /// Every diff applies to the old text and gives the new one, its
        /// context and removed lines matching the old text where the
        /// headers say.
        #[test]
        fn applying_the_diff_gives_the_new_text(
            old in proptest::collection::vec("[abc]{0,2}", 0..30),
            new in proptest::collection::vec("[abc]{0,2}", 0..30),
            old_end in any::<bool>(),
            new_end in any::<bool>(),
        ) {
            let text = |lines: &[String], end: bool| {
                let mut t = lines.join("\n");
                if end && !t.is_empty() {
                    t.push('\n');
                }
                t
            };
            let (old, new) = (text(&old, old_end), text(&new, new_end));
            let diff = unified_diff(&old, &new, "f");
            prop_assert_eq!(diff.is_empty(), old == new);
            if !diff.is_empty() {
                prop_assert_eq!(apply(&old, &diff), new);
            }
        }
    }
}
