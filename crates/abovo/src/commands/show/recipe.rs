//! The "how it is built" section of `abovo show`: the derivation's builder,
//! arguments and environment, then each item it reads (input sources, the
//! builder when it is an item of its own, the fixed outputs of its inputs)
//! with its text, or what it is, or why it is not at hand.
//!
//! The library builds the [`Recipe`] and reads the items; this module only
//! renders it, in text or JSON. Every byte that comes from a derivation or
//! an item is escaped before it reaches a terminal.

use super::{Args, Found, ShowFormat, parse_derivation};
use crate::exit;
use crate::output::{Context, print_json, sanitize, sanitize_bytes};
use crate::places::graph_source_places;
use crate::report::human_bytes;
use crate::report::text::{count, plural};
use abovo_store::StorePath;
use abovo_trust::items::{Content, EntryKind, SummaryOptions};
use abovo_trust::recipe::{Recipe, Role, UsedItem};
use std::fmt::Write as _;
use std::io::Write as _;

/// Prints the section for the derivation `found`.
pub fn run(args: &Args, found: Found, ctx: &Context) -> anyhow::Result<u8> {
    let mut recipe = match found {
        Found::Text {
            bytes,
            file,
            place,
            graph,
        } => of_text(
            args.store_dir.as_deref(),
            &bytes,
            &file,
            place,
            graph.as_ref(),
        )?,
        Found::Graph { graph, node, .. } => Recipe::from_graph(&graph, node)
            .ok_or_else(|| anyhow::anyhow!("`{}` is not a derivation", args.drv()))?,
    };
    let store = abovo_store::StoreDir::new(store_of(&recipe.derivation))?;
    let places = args
        .places
        .places(&store, &graph_source_places(args.source.as_deref()))?;
    let options = SummaryOptions {
        max_lines: args.max_lines,
        ..SummaryOptions::default()
    };
    recipe.read_items(&places, &options)?;
    if args.format == Some(ShowFormat::RecipeJson) {
        print_json(&recipe_json(&recipe))?;
    } else {
        let mut out = std::io::stdout().lock();
        out.write_all(render(&recipe, ctx).as_bytes())?;
        out.flush()?;
    }
    Ok(exit::SUCCESS)
}

/// The recipe of the `.drv` text `bytes` read from `file` (found at
/// `place`), checked as `abovo show` checks it.
pub(crate) fn of_text(
    store_dir: Option<&str>,
    bytes: &[u8],
    file: &str,
    place: Option<String>,
    graph: Option<&abovo_graph::Graph>,
) -> anyhow::Result<Recipe> {
    let (drv, name, store) = parse_derivation(store_dir, file, bytes)?;
    super::check_fixed_paths(&drv, name.as_deref(), &store, file)?;
    let drv_path = file
        .rsplit(['/', ':'])
        .next()
        .and_then(|b| StorePath::from_base_name(b).ok());
    let drv_path = match drv_path {
        Some(p) => p,
        // A file not named by its store path: its path follows
        // from its content.
        None => {
            let name = drv
                .name_from_outputs()
                .map(str::to_owned)
                .or_else(|| drv.declared_name())
                .unwrap_or_else(|| "unknown".to_owned());
            drv.drv_path(&store, &name, bytes)?
        }
    };
    let read_from = match place {
        Some(place) => place,
        None => format!("`{file}`"),
    };
    Ok(Recipe::from_derivation(
        &drv, &drv_path, &store, read_from, graph,
    ))
}

/// The store directory of an absolute store path (all but its last
/// component).
pub(crate) fn store_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("/gnu/store", |(dir, _)| dir)
}

/// The recipe in JSON: the library's fields, with the arguments,
/// environment and texts as strings (or `{"bytes": base64}` when not
/// UTF-8).
pub fn recipe_json(recipe: &Recipe) -> serde_json::Value {
    use crate::commands::ls::{bytes_json, entry_json};
    let mut v = serde_json::to_value(recipe).unwrap_or_default();
    v["arguments"] = match &recipe.arguments {
        Some(args) => args.iter().map(|a| bytes_json(a)).collect(),
        None => serde_json::Value::Null,
    };
    v["environment"] = match &recipe.environment {
        Some(env) => env
            .iter()
            .map(|(k, val)| serde_json::json!({"name": bytes_json(k), "value": bytes_json(val)}))
            .collect(),
        None => serde_json::Value::Null,
    };
    if let Some(items) = v["items"].as_array_mut() {
        for (json, item) in items.iter_mut().zip(&recipe.items) {
            let Some(summary) = &item.summary else {
                continue;
            };
            match &summary.content {
                Content::Text { head, .. } => {
                    json["summary"]["content"]["text"] = bytes_json(head);
                }
                Content::Tree { entries, .. } => {
                    json["summary"]["content"]["entries"] =
                        entries.iter().map(entry_json).collect();
                }
                _ => {}
            }
        }
    }
    v
}

/// The section in text.
pub fn render(recipe: &Recipe, ctx: &Context) -> String {
    let mut o = String::new();
    let bold = |s: &str| ctx.style("1", s);
    let _ = writeln!(
        o,
        "{}",
        bold(&format!("How {} is built", sanitize(&recipe.name)))
    );
    let field = |o: &mut String, label: &str, value: &str| {
        let _ = writeln!(o, "  {:<13}{}", format!("{label}:"), value);
    };
    field(&mut o, "derivation", &sanitize(&recipe.derivation));
    match &recipe.read_from {
        Some(place) => field(&mut o, "read from", &sanitize(place)),
        None => field(
            &mut o,
            "read from",
            "the graph alone: its .drv is at hand nowhere (--source DIR or --sources PATH \
             gives it)",
        ),
    }
    field(&mut o, "system", &sanitize(&recipe.system));
    field(&mut o, "builder", &sanitize(&recipe.builder));
    match &recipe.arguments {
        None => field(&mut o, "arguments", "unknown (not in the graph)"),
        Some(args) if args.is_empty() => field(&mut o, "arguments", "none"),
        Some(args) => {
            let _ = writeln!(o, "  arguments:");
            for a in args {
                let _ = writeln!(o, "    {}", sanitize_bytes(a));
            }
        }
    }
    match &recipe.environment {
        None => field(&mut o, "environment", "unknown (not in the graph)"),
        Some(env) => {
            let _ = writeln!(o, "  environment:");
            for (k, v) in env {
                let _ = writeln!(o, "    {}={}", sanitize_bytes(k), sanitize_bytes(v));
            }
        }
    }
    let _ = writeln!(o, "  outputs:");
    for out in &recipe.outputs {
        let path = out.path.as_deref().unwrap_or("(no path recorded)");
        let _ = write!(o, "    {:<6} {}", sanitize(&out.name), sanitize(path));
        if let Some(f) = &out.fixed {
            let _ = write!(o, "  (fixed: {})", sanitize(f));
        }
        match out.after_build {
            Some("floating") => o.push_str("  (floating content-addressed: known after the build)"),
            Some("impure") => o.push_str("  (impure: known after the build, pinned by no hash)"),
            Some(kind) => {
                let _ = write!(o, "  ({kind}: known once its inputs are built)");
            }
            None => {}
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "  inputs:      {}, {}",
        plural(recipe.input_derivations.len(), "derivation", "derivations"),
        plural(recipe.input_sources.len(), "source", "sources")
    );
    for input in &recipe.input_derivations {
        let _ = writeln!(
            o,
            "    {} ({})",
            sanitize(&input.path),
            sanitize(&input.outputs.join(", "))
        );
    }
    for src in &recipe.input_sources {
        let _ = writeln!(o, "    {}", sanitize(src));
    }
    if !recipe.items.is_empty() {
        let at_hand = recipe.items.iter().filter(|i| i.summary.is_some()).count();
        let _ = writeln!(
            o,
            "\n{}",
            bold(&format!(
                "What it reads: {}, {} at hand",
                plural(recipe.items.len(), "item", "items"),
                count(at_hand as u64)
            ))
        );
        for item in &recipe.items {
            render_item(&mut o, item, ctx);
        }
        if at_hand < recipe.items.len() {
            let _ = writeln!(
                o,
                "\n{}: --sources PATH adds a place to look (a store, a folder of fetched \
                 files, an archive of items such as the Guix corpus's sources.tar.zst)",
                plural(
                    recipe.items.len() - at_hand,
                    "item not at hand",
                    "items not at hand"
                )
            );
        }
    }
    o
}

fn role(item: &UsedItem) -> String {
    match &item.role {
        Role::InputSource => "input source".to_owned(),
        Role::Builder => "the builder".to_owned(),
        Role::FixedOutput { derivation } => {
            format!("fixed output of {}", sanitize(derivation))
        }
    }
}

fn render_item(o: &mut String, item: &UsedItem, ctx: &Context) {
    let _ = writeln!(o, "\n{}", ctx.style("1", &sanitize(&item.path)));
    let _ = writeln!(o, "  {}", role(item));
    let Some(s) = &item.summary else {
        let _ = writeln!(o, "  not at hand");
        return;
    };
    let _ = writeln!(o, "  from {}", sanitize(&s.place));
    match &s.content {
        Content::Text {
            head,
            lines,
            shown_lines,
            truncated,
        } => {
            let _ = writeln!(
                o,
                "  text, {}, {}{}:",
                size(s.size),
                plural(*lines as usize, "line", "lines"),
                if s.executable { ", executable" } else { "" }
            );
            for line in head.split_inclusive(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let _ = writeln!(o, "    │ {}", sanitize_bytes(line));
            }
            if *truncated {
                let more = lines - shown_lines;
                let _ = writeln!(
                    o,
                    "    … {} more {} (abovo cat {} prints all; --max-lines N shows more)",
                    count(more),
                    if more == 1 { "line" } else { "lines" },
                    sanitize(&item.path)
                );
            }
        }
        Content::Binary { what } => {
            let archive = what.ends_with("-compressed data") || what.ends_with(" archive");
            let _ = writeln!(
                o,
                "  {}, {}{}{}",
                sanitize(what),
                size(s.size),
                if s.executable { ", executable" } else { "" },
                if archive {
                    format!(" (abovo ls {} lists its members)", sanitize(&item.path))
                } else {
                    String::new()
                }
            );
        }
        Content::Tree {
            files,
            directories,
            others,
            entries,
        } => {
            let _ = writeln!(
                o,
                "  directory: {}, {} in {} (abovo ls -R lists it, abovo cat PATH/FILE prints a \
                 file):",
                plural(*files as usize, "file", "files"),
                size(s.size),
                plural(*directories as usize + 1, "directory", "directories"),
            );
            for e in entries {
                let mut line = format!("    {}", sanitize_bytes(&e.path));
                match e.kind {
                    EntryKind::Directory => line.push('/'),
                    EntryKind::Regular => {
                        let _ = write!(line, "  {}", size(e.size.unwrap_or(0)));
                    }
                    _ => {
                        if let Some(t) = &e.target {
                            let _ = write!(line, " -> {}", sanitize_bytes(t));
                        }
                    }
                }
                let _ = writeln!(o, "{line}");
            }
            let listed = entries.len() as u64;
            let total = files + directories + others;
            if total > listed {
                let _ = writeln!(o, "    … {} more entries", count(total - listed));
            }
        }
        Content::Link { target } => {
            let _ = writeln!(o, "  a symbolic link to {}", sanitize(target));
        }
    }
}

fn size(n: u64) -> String {
    if n < 1024 {
        format!("{} {}", count(n), if n == 1 { "byte" } else { "bytes" })
    } else {
        format!("{} ({} bytes)", human_bytes(n), count(n))
    }
}
