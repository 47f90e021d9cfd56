//! `abovo diff A B`: compare two store items or trees file by file.

use crate::exit;
use crate::output::{Context, Format, TEXT_JSON, print_json, sanitize};
use crate::report::text::plain_plural;
use abovo_build::diff::{Change, ContentDiff, TreeDiff, bytes, diff_trees};
use std::io::Write;
use std::path::PathBuf;

/// Compare two store items or trees file by file: entries added and
/// removed, type, mode and symlink target changes, and content changes
/// (a unified diff for text, the first differing byte ranges with a hex
/// view for binary files). Exit 0 when they are the same, 1 when they
/// differ.
#[derive(Debug, clap::Args)]
// One paragraph is only an `about`, which the subcommand's replaces: this
// makes it the text of `--help`.
#[command(long_about)]
pub struct Args {
    /// The first tree (for a failed --check: the registered output).
    pub old: PathBuf,
    /// The second tree (for a failed --check: OUT-check).
    pub new: PathBuf,
    /// Output format: text or json.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// In text, list the changes without the diffs and hex views.
    #[arg(long)]
    pub brief: bool,
}

/// Runs `abovo diff`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    args.format.check("diff", TEXT_JSON)?;
    let diff = diff_trees(&args.old, &args.new)?;
    if args.format == Format::Json {
        print_json(&diff)?;
    } else {
        print_text(&diff, args.brief, ctx)?;
    }
    Ok(if diff.is_empty() {
        exit::SUCCESS
    } else {
        exit::NEGATIVE
    })
}

fn print_text(diff: &TreeDiff, brief: bool, ctx: &Context) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // Names, symlink targets and text lines come from the trees, which
    // anyone may have made: every one goes through `sanitize` so that no
    // escape sequence reaches the terminal and no newline forges a line.
    let (old, new) = (
        sanitize(&diff.old.to_string_lossy()).into_owned(),
        sanitize(&diff.new.to_string_lossy()).into_owned(),
    );
    if diff.is_empty() {
        writeln!(out, "{old} and {new} are the same")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} from {old} to {new}",
        plain_plural(diff.changes.len(), "change", "changes")
    )?;
    for c in &diff.changes {
        writeln!(out, "{}", ctx.style("1", &sanitize(&c.summary())))?;
        if brief {
            continue;
        }
        if let Change::Content { diff: d, .. } = c {
            match d {
                ContentDiff::Text { unified } => {
                    // Split on `\n` only: a `\r` before it is content, shown escaped.
                    for line in unified.split_terminator('\n') {
                        let safe = sanitize(line);
                        let styled = if line.starts_with('+') && !line.starts_with("+++") {
                            ctx.style("32", &safe)
                        } else if line.starts_with('-') && !line.starts_with("---") {
                            ctx.style("31", &safe)
                        } else {
                            safe.into_owned()
                        };
                        writeln!(out, "    {styled}")?;
                    }
                }
                ContentDiff::Binary { ranges, more, hex } => {
                    let list: Vec<String> = ranges
                        .iter()
                        .map(|r| format!("{:#x} ({})", r.offset, bytes(r.len)))
                        .collect();
                    writeln!(
                        out,
                        "    differing bytes at {}{}",
                        list.join(", "),
                        if *more { ", and more" } else { "" }
                    )?;
                    // Hex rows show only printable ASCII; sanitised anyway.
                    for line in hex.lines() {
                        writeln!(out, "    {}", sanitize(line))?;
                    }
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
