//! `abovo ls STORE-PATH[/PATH]`: what a store item, a directory in it or an
//! archive inside it holds.

use crate::exit;
use crate::output::{Context, Format, sanitize_bytes};
use crate::places::{PlaceArgs, note_rewritten, parse_item_path, with_hint};
use crate::source::TEXT_JSON;
use abovo_trust::content::Limits;
use abovo_trust::items::{self, Entry, ItemError, ListOptions};
use std::io::Write;

/// List a store item: the entries of a directory (of the item, or inside
/// an archive), the members of an archive (recursively, as `tar tv` does),
/// or a file itself.
///
/// STORE-PATH[/PATH] is written as for `abovo cat`: the path goes on into
/// archives, and may leave out an archive's top-level directory. Each line
/// shows the mode, the owner and the time where the source records them
/// (archives do; store items have none), the size and the name; times are
/// in UTC.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to list: STORE-PATH[/PATH].
    #[arg(value_name = "STORE-PATH[/PATH]")]
    pub path: String,
    /// List a directory's whole tree, not only its entries.
    #[arg(long, short = 'R')]
    pub recursive: bool,
    /// List the directory, archive or file itself, not what it holds.
    #[arg(long, short = 'd')]
    pub directory: bool,
    /// Output format.
    #[arg(long, short = 'f', default_value = "text", value_parser = Format::parser(TEXT_JSON))]
    pub format: Format,
    /// The store directory of STORE-PATH. Default: what comes before its
    /// `<hash>-<name>` component (/gnu/store for a bare base name).
    #[arg(long, value_name = "DIR")]
    pub store_dir: Option<String>,
    /// Where the items are.
    #[command(flatten)]
    pub places: PlaceArgs,
}

/// Runs `abovo ls`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<u8> {
    let (path, wanted) = parse_item_path(&args.path, args.store_dir.as_deref())?;
    let places = args.places.places(&path.store, &[])?;
    let options = ListOptions {
        recursive: args.recursive,
        directory: args.directory,
    };
    let json = args.format == Format::Json;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    // Entries are written as they are read: memory stays bounded whatever
    // the size of the archive. The JSON document closes with where they
    // came from, known only at the end.
    let mut first = true;
    if json {
        out.write_all(b"{\"entries\": [")
            .map_err(ItemError::Output)?;
    }
    let mut sink = |e: &Entry| -> Result<(), ItemError> {
        if json {
            if !first {
                out.write_all(b",").map_err(ItemError::Output)?;
            }
            first = false;
            out.write_all(b"\n  ").map_err(ItemError::Output)?;
            serde_json::to_writer(&mut out, &entry_json(e))
                .map_err(|e| ItemError::Output(e.into()))?;
        } else {
            writeln!(out, "{}", entry_line(e)).map_err(ItemError::Output)?;
        }
        Ok(())
    };
    let located = items::list(
        &places,
        &path,
        &wanted,
        &Limits::default(),
        options,
        &mut sink,
    )
    .map_err(with_hint)?;
    if json {
        let rest = serde_json::json!({
            "path": located.path,
            "place": located.place,
            "found": located.found,
        });
        // `{"path": …}` without its opening brace, after the entries.
        let rest = serde_json::to_string_pretty(&rest)?;
        write!(out, "\n], {}\n", rest.trim_start_matches('{').trim_start())?;
    }
    out.flush()?;
    note_rewritten(ctx, &path, &located);
    Ok(exit::SUCCESS)
}

/// One line of the text listing: mode, owner, size, time, name.
pub fn entry_line(e: &Entry) -> String {
    let mut line = e.mode_string();
    let owner = match (&e.user, &e.group, e.uid, e.gid) {
        (Some(u), Some(g), _, _) => Some(format!("{u}/{g}")),
        (_, _, Some(u), Some(g)) => Some(format!("{u}/{g}")),
        _ => None,
    };
    if let Some(o) = owner {
        line.push(' ');
        line.push_str(&sanitize_bytes(o.as_bytes()));
    }
    match e.size {
        Some(size) => line.push_str(&format!(" {size:>10}")),
        None => line.push_str(&format!(" {:>10}", "?")),
    }
    if let Some(t) = e.mtime {
        line.push(' ');
        line.push_str(&items::format_time(t));
    }
    line.push(' ');
    line.push_str(&sanitize_bytes(&e.path));
    if let Some(target) = &e.target {
        line.push_str(match e.kind {
            items::EntryKind::Hardlink => " link to ",
            _ => " -> ",
        });
        line.push_str(&sanitize_bytes(target));
    }
    line
}

/// Bytes for JSON: a string when they are UTF-8, else `{"bytes":
/// "<base64>"}`.
pub fn bytes_json(b: &[u8]) -> serde_json::Value {
    match std::str::from_utf8(b) {
        Ok(s) => serde_json::json!(s),
        Err(_) => serde_json::json!({"bytes": abovo_store::encoding::base64_encode(b)}),
    }
}

/// One entry in JSON.
pub fn entry_json(e: &Entry) -> serde_json::Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["path"] = bytes_json(&e.path);
    if let Some(t) = &e.target {
        v["target"] = bytes_json(t);
    }
    if let Some(m) = e.mode {
        v["mode"] = serde_json::json!(format!("{m:04o}"));
    }
    v
}
