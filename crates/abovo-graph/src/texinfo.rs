//! Texinfo fragments (package synopses and descriptions) as plain text,
//! the way `guix show` prints them: Guile's `texi-fragment->stexi` and
//! `stexi->plain-text`, reproduced rule for rule, quirks included, so that
//! the records abovo prints are the ones Guix users know.
//!
//! # What is reproduced
//!
//! * Paragraphs are separated by blank lines and filled with Guile's text
//!   wrapper ([`fill_string`]): newlines become spaces, runs of spaces
//!   collapse to one, words go on a line while they fit, and a word that
//!   follows a line ending with a full stop (not `..`) gets one more space
//!   before it, so that sentences stay two spaces apart.
//! * Inline commands: `@code`, `@samp`, `@command`, `@file`, `@env`,
//!   `@option`, `@kbd` → `` `x' ``; `@emph` → `_x_`; `@strong` → `*x*`;
//!   `@dfn`, `@cite` → `"x"`; `@var`, `@sc` → upper case; `@key`,
//!   `@email` → `<x>`; `@acronym{A, meaning}` → `A (meaning)`;
//!   `@url`/`@uref{url, title}` → `title (url)` or `` `url' ``; `@math`
//!   → `x`; `@dots{}` → `...`; `@result{}` → `==>`; `@copyright{}` →
//!   `(C)`. Commands Guile has no plain-text rule for (`@i`, `@b`, `@t`,
//!   `@asis`, `@tie{}`, `@w`, …) are rendered as paragraphs of their own,
//!   which the enclosing paragraph's filling turns into spaces.
//! * `@@`, `@{`, `@}`, `@:`, `@.`, `@!`, `@?` and `@\` stand for the
//!   character after the `@`.
//! * Blocks: `@itemize` (items marked `* ` three columns in), `@enumerate`
//!   (`1. `), `@table` (the item's heading, then its text five columns
//!   in), `@example`/`@lisp` (lines as they are, five columns in),
//!   `@verbatim`, `@quotation`; `@c` and `@comment` lines are dropped.
//! * Markup Guile's parser refuses (an unknown command, a brace left
//!   open) makes the whole text print as written, as `guix show` does.

/// How many columns `guix show` fills text to: the terminal's width, less
/// the two of recutils' `+ ` continuation prefix.
pub const GUIX_WIDTH: usize = 78;

/// Guile's `fill-string` (`make-text-wrapper` with its defaults): `text`
/// filled to `width` columns, each line starting with `indent`.
pub fn fill_string(text: &str, width: usize, indent: &str) -> String {
    // Newlines and tabs to spaces (tabs expanded to the next stop of
    // eight), then runs of spaces collapsed to one.
    let mut flat = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => flat.push(' '),
            '\t' => {
                let col = flat.chars().rev().take_while(|&c| c != '\n').count();
                flat.extend(std::iter::repeat_n(' ', 8 - col % 8));
            }
            c => flat.push(c),
        }
    }
    let mut collapsed = String::with_capacity(flat.len());
    for c in flat.chars() {
        if !(c == ' ' && collapsed.ends_with(' ')) {
            collapsed.push(c);
        }
    }
    // Words with the whitespace before them: `[ws]non-ws`.
    let text = collapsed.trim_matches(char::is_whitespace);
    let mut words: Vec<&str> = Vec::new();
    let mut start = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if in_word {
                words.push(&text[start..i]);
                start = i;
                in_word = false;
            }
        } else {
            in_word = true;
        }
    }
    if in_word {
        words.push(&text[start..]);
    }
    let len = |s: &str| s.chars().count();
    let mut lines: Vec<String> = Vec::new();
    let mut line = indent.to_owned();
    let mut count = 0;
    let mut i = 0;
    let mut pending: Option<String> = None;
    loop {
        let word: String = match pending.take() {
            Some(w) => w,
            None => match words.get(i) {
                Some(w) => {
                    i += 1;
                    (*w).to_owned()
                }
                None => break,
            },
        };
        let word = if count == 0 {
            word.trim_matches(char::is_whitespace).to_owned()
        } else {
            word
        };
        let left = width.saturating_sub(len(&line));
        if len(&word) <= left {
            if end_of_sentence(&line) {
                line.push(' ');
            }
            line.push_str(&word);
            count += 1;
        } else if count > 0 {
            lines.push(std::mem::replace(&mut line, indent.to_owned()));
            count = 0;
            pending = Some(word);
        } else {
            // A word longer than a line: broken at the limit.
            // At least one character a line, so that an indentation as
            // wide as the line still makes progress.
            let cut = word
                .char_indices()
                .nth(left.max(1))
                .map_or(word.len(), |(b, _)| b);
            line.push_str(&word[..cut]);
            lines.push(std::mem::replace(&mut line, indent.to_owned()));
            count = 0;
            pending = Some(word[cut..].to_owned());
            if word[cut..].is_empty() {
                pending = None;
            }
        }
    }
    if count > 0 {
        lines.push(line);
    }
    lines.join("\n")
}

/// Guile's `end-of-sentence?`: the text ends with a full stop that does
/// not follow another.
fn end_of_sentence(s: &str) -> bool {
    let mut rev = s.chars().rev();
    matches!((rev.next(), rev.next()), (Some('.'), Some(c)) if c != '.')
}

/// Why a fragment is not Texinfo Guile's parser accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TexinfoError(pub String);

/// `text` (a Texinfo fragment) as plain text filled to `width` columns:
/// each paragraph and block followed by a blank line, as
/// `stexi->plain-text` writes them. Markup Guile's parser refuses gives an
/// error.
pub fn to_plain_text(text: &str, width: usize) -> Result<String, TexinfoError> {
    check_nesting(text)?;
    let blocks = Parser::new(text).blocks(None)?;
    let mut out = String::new();
    render_blocks(&blocks, width, "", &mut out);
    Ok(out)
}

/// `guix show`'s rendering of a Texinfo field: the plain text, or the text
/// as written when Guile's parser refuses it.
pub fn to_plain_text_or_raw(text: &str, width: usize) -> String {
    to_plain_text(text, width).unwrap_or_else(|_| text.to_owned())
}

/// How deep braces and environments may nest: far beyond any package
/// description, and shallow enough that the recursive parser and renderer
/// stay well within the stack whatever the text.
const MAX_NESTING: usize = 32;

/// Refuses text nested deeper than [`MAX_NESTING`], before the recursive
/// parser sees it.
fn check_nesting(text: &str) -> Result<(), TexinfoError> {
    const ENVIRONMENTS: &[&str] = &[
        "itemize",
        "enumerate",
        "table",
        "quotation",
        "display",
        "format",
    ];
    let (mut braces, mut environments) = (0usize, 0usize);
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            if c == '{' || c == '}' || c == '@' {
                continue;
            }
        }
        match c {
            '@' => {
                escaped = true;
                let after = &text[i + 1..];
                if ENVIRONMENTS.iter().any(|e| after.starts_with(e)) {
                    environments += 1;
                } else if after.starts_with("end ") {
                    environments = environments.saturating_sub(1);
                }
            }
            '{' => braces += 1,
            '}' => braces = braces.saturating_sub(1),
            _ => {}
        }
        if braces > MAX_NESTING || environments > MAX_NESTING {
            return Err(TexinfoError(format!(
                "nested more than {MAX_NESTING} deep at byte {i}"
            )));
        }
    }
    Ok(())
}

/// Inline content: text, and commands with their (inline) arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inline {
    Text(String),
    /// A command with its argument (the text between its braces, split
    /// at top-level commas for commands that take several).
    Command(String, Vec<Vec<Inline>>),
}

/// A block of a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Block {
    Para(Vec<Inline>),
    Itemize(Vec<Vec<Block>>),
    Enumerate(u32, Vec<Vec<Block>>),
    Table(Vec<(Vec<Inline>, Vec<Block>)>),
    /// Lines kept as written, indented five columns (`@example`, `@lisp`).
    Example(String),
    /// Lines kept as written (`@verbatim`).
    Verbatim(String),
    Quotation(Vec<Block>),
}

/// Commands whose argument is rendered, by Guile's plain-text rules.
const INLINE: &[&str] = &[
    "code",
    "samp",
    "sample",
    "kbd",
    "env",
    "file",
    "command",
    "option",
    "url",
    "uref",
    "emph",
    "strong",
    "dfn",
    "cite",
    "var",
    "sc",
    "key",
    "email",
    "acronym",
    "acro",
    "math",
    "dots",
    "result",
    "copyright",
    "bullet",
    "tie",
    "i",
    "b",
    "r",
    "t",
    "asis",
    "w",
    "bold",
    "titlefont",
    "sansserif",
    "slanted",
    "value",
    "anchor",
    "ref",
    "xref",
    "pxref",
    "image",
];

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn error(&self, what: impl Into<String>) -> TexinfoError {
        TexinfoError(format!("{} at byte {}", what.into(), self.pos))
    }

    /// The rest of the current line (without its newline), consumed.
    fn line(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find('\n').unwrap_or(rest.len());
        self.pos += (end + 1).min(rest.len());
        &rest[..end]
    }

    /// The name of the command at `@`, not consumed; `None` for an escape.
    fn command_name(&self) -> Result<Option<&'a str>, TexinfoError> {
        let after = &self.rest()[1..];
        let first = after.chars().next();
        match first {
            Some('!' | ':' | '.' | '?' | '@' | '\\' | '{' | '}') => Ok(None),
            Some(c) if c.is_alphabetic() => {
                let end = after
                    .find(|c: char| !c.is_alphabetic())
                    .unwrap_or(after.len());
                Ok(Some(&after[..end]))
            }
            _ => Err(self.error("an @ that starts no command")),
        }
    }

    /// Blocks until `@end END` (consumed) or, with no `end`, the end of
    /// the text; within an `@itemize`/`@enumerate`/`@table`, also until the
    /// next `@item` (not consumed).
    fn blocks(&mut self, end: Option<&str>) -> Result<Vec<Block>, TexinfoError> {
        let mut blocks = Vec::new();
        let mut para: Vec<Inline> = Vec::new();
        let flush = |para: &mut Vec<Inline>, blocks: &mut Vec<Block>| {
            if para
                .iter()
                .any(|i| !matches!(i, Inline::Text(t) if t.trim().is_empty()))
            {
                blocks.push(Block::Para(std::mem::take(para)));
            }
            para.clear();
        };
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                if let Some(end) = end {
                    return Err(self.error(format!("no @end {end}")));
                }
                flush(&mut para, &mut blocks);
                return Ok(blocks);
            }
            // A blank line ends a paragraph.
            if let Some(after) = rest.strip_prefix('\n') {
                let blank = after.len() - after.trim_start_matches([' ', '\t']).len();
                if after[blank..].starts_with('\n') || after[blank..].is_empty() {
                    flush(&mut para, &mut blocks);
                    self.pos += 1 + blank;
                    continue;
                }
            }
            if !rest.starts_with('@') {
                let stop = rest.find(['@', '\n', '{', '}']).unwrap_or(rest.len());
                let stop = if stop == 0 { 1 } else { stop };
                let chunk = &rest[..stop];
                if chunk == "{" || chunk == "}" {
                    return Err(self.error(format!("a stray `{chunk}`")));
                }
                push_text(&mut para, chunk);
                self.pos += stop;
                continue;
            }
            let Some(name) = self.command_name()? else {
                push_text(&mut para, &rest[1..2]);
                self.pos += 2;
                continue;
            };
            match name {
                "end" => {
                    self.pos += 4;
                    let what = self.line().trim();
                    return match end {
                        Some(e) if e == what => {
                            flush(&mut para, &mut blocks);
                            Ok(blocks)
                        }
                        _ => Err(self.error(format!("@end {what} closes nothing open"))),
                    };
                }
                "item" | "itemx" if end.is_some() => {
                    flush(&mut para, &mut blocks);
                    return Ok(blocks);
                }
                "c" | "comment" => {
                    self.line();
                }
                "itemize" | "enumerate" | "table" | "example" | "lisp" | "smallexample"
                | "smalllisp" | "verbatim" | "quotation" | "display" | "format" => {
                    flush(&mut para, &mut blocks);
                    self.pos += 1 + name.len();
                    let arg = self.line().trim();
                    blocks.push(self.environment(name, arg)?);
                }
                _ if INLINE.contains(&name) => {
                    self.pos += 1 + name.len();
                    let args = self.braces(name)?;
                    para.push(Inline::Command(name.to_owned(), args));
                }
                "noindent" => {
                    self.pos += 1 + name.len();
                    para.push(Inline::Command(name.to_owned(), Vec::new()));
                }
                other => return Err(self.error(format!("unknown command @{other}"))),
            }
        }
    }

    /// The body of environment `name`, whose argument line was `arg`.
    fn environment(&mut self, name: &str, arg: &str) -> Result<Block, TexinfoError> {
        match name {
            "itemize" | "enumerate" | "table" => {
                let mut items: Vec<(Vec<Inline>, Vec<Block>)> = Vec::new();
                // Text before the first @item is dropped, as Guile drops it.
                self.blocks(Some(name))?;
                // `blocks` stops before an @item, or after the @end.
                while self.at_command("item") || self.at_command("itemx") {
                    let itemx = self.at_command("itemx");
                    self.pos += if itemx { 6 } else { 5 };
                    let heading = if name == "table" {
                        inline_line(self.line())?
                    } else {
                        Vec::new()
                    };
                    let body = self.blocks(Some(name))?;
                    items.push((heading, body));
                }
                Ok(match name {
                    "itemize" => Block::Itemize(items.into_iter().map(|(_, b)| b).collect()),
                    "enumerate" => Block::Enumerate(
                        arg.parse().unwrap_or(1),
                        items.into_iter().map(|(_, b)| b).collect(),
                    ),
                    _ => Block::Table(items),
                })
            }
            "quotation" | "display" | "format" => Ok(Block::Quotation(self.blocks(Some(name))?)),
            _ => {
                // Kept as written until `@end NAME`.
                let marker = format!("@end {name}");
                let rest = self.rest();
                let at = rest
                    .find(&marker)
                    .ok_or_else(|| self.error(format!("no {marker}")))?;
                let body = rest[..at].trim_end_matches('\n').to_owned();
                self.pos += at + marker.len();
                self.line();
                Ok(if name == "verbatim" {
                    Block::Verbatim(body)
                } else {
                    Block::Example(unescape(&body))
                })
            }
        }
    }

    /// Whether the text goes on with the command `name`.
    fn at_command(&self, name: &str) -> bool {
        self.rest().starts_with('@') && matches!(self.command_name(), Ok(Some(n)) if n == name)
    }

    /// The arguments of a command between braces (none without braces).
    fn braces(&mut self, name: &str) -> Result<Vec<Vec<Inline>>, TexinfoError> {
        if !self.rest().starts_with('{') {
            return Ok(Vec::new());
        }
        let open = self.pos;
        let mut depth = 0usize;
        let mut i = 0;
        let bytes = self.rest().as_bytes();
        while i < bytes.len() {
            match bytes[i] {
                b'@' => i += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        if depth != 0 || i >= bytes.len() {
            self.pos = open;
            return Err(self.error(format!("@{name} with its brace left open")));
        }
        let inner = &self.rest()[1..i];
        self.pos += i + 1;
        let several = matches!(name, "url" | "uref" | "acronym" | "ref" | "xref" | "pxref");
        let parts = if several {
            split_top_level(inner)
        } else {
            vec![inner]
        };
        parts.into_iter().map(inline_line).collect()
    }
}

/// Appends text to a paragraph, joining it to the text before.
fn push_text(para: &mut Vec<Inline>, text: &str) {
    if let Some(Inline::Text(t)) = para.last_mut() {
        t.push_str(text);
    } else {
        para.push(Inline::Text(text.to_owned()));
    }
}

/// `text` split at its commas outside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start, mut escaped) = (0i32, 0, false);
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '@' => escaped = true,
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// Inline content of a line or a command's argument (no blocks).
fn inline_line(text: &str) -> Result<Vec<Inline>, TexinfoError> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    while !p.rest().is_empty() {
        let rest = p.rest();
        if !rest.starts_with('@') {
            let stop = rest.find('@').unwrap_or(rest.len());
            push_text(&mut out, &rest[..stop]);
            p.pos += stop;
            continue;
        }
        match p.command_name()? {
            None => {
                push_text(&mut out, &rest[1..2]);
                p.pos += 2;
            }
            Some(name) if INLINE.contains(&name) || name == "noindent" => {
                p.pos += 1 + name.len();
                let args = p.braces(name)?;
                out.push(Inline::Command(name.to_owned(), args));
            }
            Some(other) => return Err(p.error(format!("unknown command @{other}"))),
        }
    }
    Ok(out)
}

/// The escapes of a block kept as written (`@@`, `@{`, `@}`).
fn unescape(text: &str) -> String {
    text.replace("@@", "\u{0}")
        .replace("@{", "{")
        .replace("@}", "}")
        .replace('\u{0}', "@")
}

/// Guile's `wrap`: a paragraph filled, then a blank line.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    format!("{}\n\n", fill_string(text, width, indent))
}

fn render_inline(items: &[Inline], width: usize, indent: &str) -> String {
    items
        .iter()
        .map(|i| match i {
            Inline::Text(t) => t.clone(),
            Inline::Command(name, args) => render_command(name, args, width, indent),
        })
        .collect()
}

fn render_command(name: &str, args: &[Vec<Inline>], width: usize, indent: &str) -> String {
    let arg = |i: usize| {
        args.get(i)
            .map(|a| render_inline(a, width, indent))
            .unwrap_or_default()
    };
    let trimmed = |i: usize| arg(i).trim().to_owned();
    match name {
        "code" | "samp" | "sample" | "kbd" | "env" | "file" | "command" | "option" => {
            format!("`{}'", arg(0))
        }
        "emph" => format!("_{}_", arg(0)),
        "strong" => format!("*{}*", arg(0)),
        "dfn" | "cite" => format!("\"{}\"", arg(0)),
        "var" | "sc" => arg(0).to_uppercase(),
        "key" | "email" => format!("<{}>", arg(0)),
        "math" => arg(0),
        "acronym" | "acro" => match args.len() {
            0 | 1 => trimmed(0),
            _ => format!("{} ({})", trimmed(0), trimmed(1)),
        },
        "url" | "uref" => {
            let title = trimmed(1);
            if title.is_empty() {
                format!("`{}'", trimmed(0))
            } else {
                format!("{title} ({})", trimmed(0))
            }
        }
        "ref" | "xref" | "pxref" => {
            let lead = match name {
                "xref" => "See ",
                "pxref" => "see ",
                _ => "",
            };
            let node = trimmed(0);
            let label = Some(trimmed(1)).filter(|s| !s.is_empty()).unwrap_or(node);
            format!("{lead}{label}")
        }
        "dots" => "...".to_owned(),
        "result" => "==>".to_owned(),
        "copyright" => "(C)".to_owned(),
        "anchor" => String::new(),
        // No plain-text rule: Guile renders them as paragraphs of their
        // own (the enclosing paragraph's filling makes spaces of the
        // blank line).
        _ => wrap(&arg(0), width, indent),
    }
}

fn render_blocks(blocks: &[Block], width: usize, indent: &str, out: &mut String) {
    for b in blocks {
        match b {
            Block::Para(items) => {
                out.push_str(&wrap(&render_inline(items, width, indent), width, indent))
            }
            Block::Itemize(items) => render_items(items, width, indent, |_| "* ".to_owned(), out),
            Block::Enumerate(start, items) => render_items(
                items,
                width,
                indent,
                |i| format!("{}. ", start + i as u32),
                out,
            ),
            Block::Table(entries) => {
                for (heading, body) in entries {
                    let h = fill_string(&render_inline(heading, width, indent), width, indent);
                    out.push_str(&h);
                    out.push('\n');
                    render_blocks(body, width, &format!("{indent}     "), out);
                }
            }
            Block::Example(text) | Block::Verbatim(text) => {
                let pad = if matches!(b, Block::Example(_)) {
                    "     "
                } else {
                    ""
                };
                for line in text.split('\n') {
                    out.push_str(&format!("{indent}{pad}{line}\n"));
                }
                out.push('\n');
            }
            Block::Quotation(body) => {
                let mut inner = String::new();
                let deeper = format!("{indent}     ");
                render_blocks(body, width, &deeper, &mut inner);
                out.push_str(&wrap(&inner, width, &deeper));
            }
        }
    }
}

/// Items five columns in, each with its tick just before its text.
fn render_items(
    items: &[Vec<Block>],
    width: usize,
    indent: &str,
    tick: impl Fn(usize) -> String,
    out: &mut String,
) {
    let deeper = format!("{indent}     ");
    for (i, body) in items.iter().enumerate() {
        let mut text = String::new();
        render_blocks(body, width, &deeper, &mut text);
        let tick = tick(i);
        let at = deeper.chars().count().checked_sub(tick.chars().count());
        if let Some(at) = at.filter(|_| !text.is_empty()) {
            // Over the indentation, which is spaces: byte and character
            // positions agree there.
            if text.len() >= at + tick.len() && text.is_char_boundary(at + tick.len()) {
                text.replace_range(at..at + tick.len(), &tick);
            }
        }
        out.push_str(&text);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn plain(text: &str) -> String {
        to_plain_text(text, GUIX_WIDTH).unwrap()
    }

    #[test]
    fn sentences_stay_two_spaces_apart_and_lines_fill() {
        assert_eq!(
            fill_string("A b.  C d. E\nf  g", 78, ""),
            "A b.  C d.  E f g"
        );
        // `..` is no end of sentence; a long word is broken.
        assert_eq!(fill_string("a.. b", 78, ""), "a.. b");
        assert_eq!(fill_string("abcdefgh ij", 4, ""), "abcd\nefgh\nij");
        assert_eq!(fill_string("aa bb cc", 5, "  "), "  aa\n  bb\n  cc");
        assert_eq!(fill_string("   ", 10, ""), "");
    }

    #[test]
    fn inline_commands_read_as_guile_writes_them() {
        assert_eq!(
            plain("Run @command{cowthink} or @code{x}, @emph{e}, @strong{s}, @var{file}."),
            "Run `cowthink' or `x', _e_, *s*, FILE.\n\n"
        );
        assert_eq!(
            plain(
                "@acronym{GNU, GNU's Not Unix} and @acronym{API}; @url{https://x.org}, @uref{https://y.org, Y}"
            ),
            "GNU (GNU's Not Unix) and API; `https://x.org', Y (https://y.org)\n\n"
        );
        assert_eq!(plain("a @@ b @{c@} d@: e@dots{}"), "a @ b {c} d: e...\n\n");
        // No plain-text rule: a paragraph of its own, made a space.
        assert_eq!(plain("x@i{y}z"), "xy z\n\n");
        assert_eq!(plain("one@tie{}two"), "one two\n\n");
    }

    #[test]
    fn blocks_are_indented_and_ticked() {
        let text = "Intro.\n\n@itemize\n@item first\nthing\n@item second\n@end itemize\nAfter.";
        assert_eq!(
            plain(text),
            "Intro.\n\n   * first thing\n\n   * second\n\nAfter.\n\n"
        );
        assert_eq!(
            plain("@enumerate\n@item a\n@item b\n@end enumerate"),
            "  1. a\n\n  2. b\n\n"
        );
        assert_eq!(
            plain("@table @code\n@item --x\nDoes x.\n@end table"),
            "--x\n     Does x.\n\n"
        );
        assert_eq!(
            plain("See:\n@example\n$ guix @{a@}\n@end example\nDone."),
            "See:\n\n     $ guix {a}\n\nDone.\n\n"
        );
    }

    #[test]
    fn nesting_beyond_any_description_is_refused_and_indentation_progresses() {
        let deep = format!("{}x{}", "@code{".repeat(100_000), "}".repeat(100_000));
        assert!(to_plain_text(&deep, 78).is_err());
        assert!(to_plain_text(&"@quotation\n".repeat(100_000), 78).is_err());
        let nested = format!(
            "{}x\n{}",
            "@quotation\n".repeat(20),
            "@end quotation\n".repeat(20)
        );
        assert!(to_plain_text(&nested, 78).unwrap().contains('x'));
        let pad = " ".repeat(100);
        assert_eq!(
            fill_string("abc", 78, &pad),
            format!("{pad}a\n{pad}b\n{pad}c")
        );
        assert_eq!(fill_string("ab", 0, ""), "a\nb");
    }

    #[test]
    fn markup_guile_refuses_is_an_error() {
        for bad in [
            "@nosuch{x}",
            "@code{open",
            "@itemize\n@item a",
            "a @* b",
            "@end itemize",
        ] {
            assert!(to_plain_text(bad, 78).is_err(), "{bad}");
            assert_eq!(to_plain_text_or_raw(bad, 78), bad);
        }
    }
}
