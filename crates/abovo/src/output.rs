//! How answers reach the user: output formats, colours, progress and error
//! messages.
//!
//! Colour and progress are decided once per stream, here: colours only when
//! the stream is a terminal (and `NO_COLOR` is unset, unless `--color always`),
//! progress bars only on a terminal standard error and never with `--quiet`.

use crate::cli::{ColorChoice, GlobalArgs};
use crate::report::json_object::Object;
use clap::ValueEnum;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

mod terminal_log;
pub use terminal_log::{TerminalLogFilter, strip_terminal_escapes};

/// The output formats. Each command accepts the subset that fits its answer
/// and says so in its `--help` (through [`Format::parser`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Text for people.
    Text,
    /// JSON for scripts (one document on standard output).
    Json,
    /// Graphviz DOT, for graphs.
    Dot,
    /// GraphML, for graphs.
    Graphml,
    /// A self-contained HTML page.
    Html,
}

/// The formats of a command that answers in text or JSON only.
pub const TEXT_JSON: &[Format] = &[Format::Text, Format::Json];

impl Format {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Dot => "dot",
            Format::Graphml => "graphml",
            Format::Html => "html",
        }
    }

    /// A clap value parser that accepts only `allowed`, so that a command's
    /// `--help` lists just the formats it writes and any other value is a
    /// usage error (exit code 2) naming the accepted ones:
    ///
    /// ```ignore
    /// #[arg(long, short = 'f', default_value = "text",
    ///       value_parser = Format::parser(&[Format::Text, Format::Json]))]
    /// pub format: Format,
    /// ```
    pub fn parser(allowed: &'static [Format]) -> impl TypedValueParser<Value = Format> {
        PossibleValuesParser::new(allowed.iter().filter_map(|f| f.to_possible_value()))
            .try_map(|name| Format::from_str(&name, false))
    }

    /// An error unless this format is one of `allowed`.
    pub fn check(self, command: &str, allowed: &[Format]) -> anyhow::Result<()> {
        if allowed.contains(&self) {
            return Ok(());
        }
        let names: Vec<&str> = allowed.iter().map(|f| f.name()).collect();
        anyhow::bail!(
            "`abovo {command}` cannot write --format {}; it writes {}",
            self.name(),
            names.join(", ")
        )
    }
}

/// What every command needs to know about where its output goes.
#[derive(Debug, Clone)]
pub struct Context {
    /// Use colours on standard output.
    pub color_stdout: bool,
    /// Use colours on standard error.
    pub color_stderr: bool,
    /// Draw progress bars on standard error.
    pub progress: bool,
    /// Print notes (anything that is not the answer or an error).
    pub notes: bool,
}

impl Context {
    /// Decides colours and progress from the flags and the streams.
    pub fn new(global: &GlobalArgs) -> Context {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let decide = |is_tty: bool| match global.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_tty && !no_color,
        };
        let stderr_tty = io::stderr().is_terminal();
        Context {
            color_stdout: decide(io::stdout().is_terminal()),
            color_stderr: decide(stderr_tty),
            progress: stderr_tty && !global.quiet,
            notes: !global.quiet,
        }
    }

    /// Prints an error and its causes on standard error, as
    /// `abovo: error: …` followed by `  caused by: …` lines. A cause whose
    /// text the message above already contains is not repeated: library
    /// errors often show their source in their own message. Every line is
    /// [sanitized](sanitize) and [clipped](clip) to [`MAX_MESSAGE_LINE`]
    /// characters: errors quote their input, and a 20 MB line of a table
    /// must not become a 100 MB message.
    pub fn error(&self, e: &anyhow::Error) {
        let mut err = io::stderr().lock();
        let label = paint(self.color_stderr, "1;31", "error:");
        let mut shown = e.to_string();
        let _ = writeln!(err, "abovo: {label} {}", for_stderr(&shown));
        for cause in e.chain().skip(1) {
            let text = cause.to_string();
            if shown.contains(&text) {
                continue;
            }
            let _ = writeln!(err, "  caused by: {}", for_stderr(&text));
            shown = text;
        }
    }

    /// Prints a note on standard error unless `--quiet` (sanitized and
    /// clipped like [errors](Context::error): notes name things from data).
    pub fn note(&self, message: &str) {
        if self.notes {
            let label = paint(self.color_stderr, "1;36", "note:");
            let _ = writeln!(
                io::stderr().lock(),
                "abovo: {label} {}",
                for_stderr(message)
            );
        }
    }

    /// Prints a warning on standard error (even with `--quiet`), sanitized
    /// and clipped like [errors](Context::error).
    pub fn warn(&self, message: &str) {
        let label = paint(self.color_stderr, "1;33", "warning:");
        let _ = writeln!(
            io::stderr().lock(),
            "abovo: {label} {}",
            for_stderr(message)
        );
    }

    /// `text` in the ANSI style `sgr` when standard output has colours.
    pub fn style(&self, sgr: &str, text: &str) -> String {
        paint(self.color_stdout, sgr, text)
    }
}

/// Makes untrusted text safe to print on a terminal: control characters
/// (escape sequences, newlines that could forge report lines, C1 controls,
/// DEL) are shown as Rust-style escapes such as `\u{1b}` or `\n`. Names in
/// archives, URLs in derivations and file names in diffs all go through
/// this before a text report prints them.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    if harmless(text, b"", false) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// [`sanitize`] line by line, keeping the line breaks: for messages that
/// carry a hint on their own line.
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}

/// [`sanitize`] for bytes that may not be UTF-8: invalid sequences become
/// `\x..` escapes.
pub fn sanitize_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(&sanitize(chunk.valid()));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The most characters a line of an error, warning or note shows; the
/// rest is counted, not printed (see [`clip`]).
pub const MAX_MESSAGE_LINE: usize = 400;

/// `text` with its middle left out so that `max` characters remain, half
/// from its start and half from its end, and `… (N characters left out) …`
/// between them; `text` itself when it is short enough.
///
/// The end is kept because that is where an error says *why*: in
/// ``cannot read `<a 5,000-character path>`: File name too long`` cutting
/// the end would lose the operating system's reason (issue 16).
pub fn clip(text: &str, max: usize) -> Cow<'_, str> {
    // Bounded by `max` from each end: a 20 MB line is walked once, to count.
    if text.char_indices().nth(max).is_none() {
        return Cow::Borrowed(text);
    }
    let head = max - max / 2;
    let tail = max / 2;
    let cut = text.char_indices().nth(head).map_or(text.len(), |(i, _)| i);
    let resume = match tail {
        0 => text.len(),
        _ => text
            .char_indices()
            .rev()
            .nth(tail - 1)
            .map_or(cut, |(i, _)| i),
    };
    let left_out = text[cut..resume].chars().count();
    Cow::Owned(format!(
        "{}… ({left_out} character{} left out) …{}",
        &text[..cut],
        if left_out == 1 { "" } else { "s" },
        &text[resume..]
    ))
}

/// A message for standard error: line by line [sanitized](sanitize) and
/// [clipped](clip) to [`MAX_MESSAGE_LINE`] characters.
pub fn for_stderr(message: &str) -> String {
    message
        .split('\n')
        .map(|line| clip(&sanitize(line), MAX_MESSAGE_LINE).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` for the inside of a Graphviz DOT quoted string (ids and
/// labels): `"` and `\` are escaped, and control characters are written as
/// the visible text [`sanitize`] makes of them (`\u{1b}`, its backslash
/// escaped), so a name cannot end the string or break the line.
pub fn dot_quoted(text: &str) -> Cow<'_, str> {
    if harmless(text, b"\"\\", false) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if is_unsafe_char(c) => {
                for e in c.escape_default() {
                    if e == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(e);
                    }
                }
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` for HTML or XML element content and attribute values: `& < > "
/// '` become references, control characters the visible text [`sanitize`]
/// makes of them (XML 1.0 forbids most of them even as references, and a
/// page must not carry terminal escapes), and the non-characters U+FFFE
/// and U+FFFF, also not XML, become U+FFFD.
pub fn markup_escape(text: &str) -> Cow<'_, str> {
    if harmless(text, b"&<>\"'", true) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c if is_unsafe_char(c) => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether an escaper leaves `text` as it is: no control character but
/// tab (C0, DEL, C1), no byte of `special` (ASCII), and, with `nonchars`,
/// neither U+FFFE nor U+FFFF. Found byte by byte in the UTF-8, without
/// decoding characters: reports escape thousands of texts (a graph in DOT
/// quotes 85,000 paths, the seeds' HTML thousands of paths joined by
/// arrows), and decoding them was a tenth of an HTML report's time.
fn harmless(text: &str, special: &[u8], nonchars: bool) -> bool {
    let bytes = text.as_bytes();
    !bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\t' => false,
        0x00..=0x1f | 0x7f => true,
        0x20..=0x7e => special.contains(&b),
        // C1 controls, U+0080 to U+009F: C2 80 to C2 9F (C2 is always a
        // lead byte in UTF-8).
        0xc2 => matches!(bytes.get(i + 1), Some(0x80..=0x9f)),
        // U+FFFE and U+FFFF: EF BF BE and EF BF BF.
        0xef => {
            nonchars
                && bytes.get(i + 1) == Some(&0xbf)
                && matches!(bytes.get(i + 2), Some(0xbe | 0xbf))
        }
        _ => false,
    })
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Wraps `text` in an ANSI SGR sequence when `on`.
pub fn paint(on: bool, sgr: &str, text: &str) -> String {
    if on {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// Writes a rendered report (text or HTML) to standard output.
pub fn write_stdout(report: &str) -> std::io::Result<()> {
    write_stdout_with(|out| out.write_all(report.as_bytes()))
}

/// Writes a report (text or HTML) on standard output with `write`, which
/// writes it piece by piece as it renders it (a large one in chunks, never
/// whole in memory), then flushes it.
pub fn write_stdout_with(
    write: impl FnOnce(&mut io::BufWriter<io::StdoutLock<'static>>) -> io::Result<()>,
) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    write(&mut out)?;
    out.flush()
}

/// Writes `value` as pretty JSON and a newline on standard output: the one
/// JSON printer of the CLI. Arrays of numbers stay on one line
/// ([`crate::report::json::InlineNumbers`]); everything else is laid out as
/// serde_json's pretty printer does.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    crate::report::json::write(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// [`print_json`] for an object written field by field by `fields`
/// ([`crate::report::json_object`]): an answer with an array too large to
/// render on one core.
pub fn print_json_object(
    fields: impl FnOnce(&mut Object<'_, io::BufWriter<io::StdoutLock<'static>>>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut object = Object::new(&mut out, 0)?;
    fields(&mut object)?;
    object.end()?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// `println!` that gives back the error of a closed standard output
/// (`abovo … | head`) instead of panicking on it, for `?`: the command
/// then ends quietly ([`is_broken_pipe`]).
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Whether an error is a closed standard output (`abovo … | head`), which
/// ends the command quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|j| j.io_error_kind())
                == Some(io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    /// What the escapers leave as it is, found byte by byte, against
    /// the same found character by character.
    fn harmless_by_chars(text: &str, special: &str, nonchars: bool) -> bool {
        !text.chars().any(|c| {
            is_unsafe_char(c)
                || special.contains(c)
                || (nonchars && matches!(c, '\u{fffe}' | '\u{ffff}'))
        })
    }

    /// The byte-by-byte check of the escapers passes only what they leave
    /// as it is: every ASCII character, the C1 controls and the two
    /// noncharacters, and text that is not ASCII around them.
    #[test]
    fn the_byte_check_passes_only_harmless_text() {
        let mut cases: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        for c in [
            '\u{80}',
            '\u{85}',
            '\u{9b}',
            '\u{9f}',
            '\u{a0}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{fffd}',
            '→',
            '—',
            'é',
            '\u{10ffff}',
        ] {
            cases.push(c.to_string());
            cases.push(format!("/gnu/store/abc-h{c}llo → x"));
        }
        for text in &cases {
            for (special, nonchars, escaped) in [
                ("", false, sanitize(text)),
                ("\"\\", false, dot_quoted(text)),
                ("&<>\"'", true, markup_escape(text)),
            ] {
                let by_chars = harmless_by_chars(text, special, nonchars);
                assert_eq!(
                    harmless(text, special.as_bytes(), nonchars),
                    by_chars,
                    "{text:?}"
                );
                assert_eq!(escaped == text.as_str(), by_chars, "{text:?}");
            }
        }
    }

    proptest::proptest! {
        /// Any text: the byte check is the character check.
        #[test]
        fn the_byte_check_is_the_character_check(text in "\\PC*|.*", raw in proptest::collection::vec(proptest::char::any(), 0..40)) {
            let raw: String = raw.into_iter().collect();
            for text in [&text, &raw] {
                for (special, nonchars) in [("", false), ("\"\\", false), ("&<>\"'", true)] {
                    proptest::prop_assert_eq!(
                        harmless(text, special.as_bytes(), nonchars),
                        harmless_by_chars(text, special, nonchars)
                    );
                }
            }
        }
    }

    #[test]
    fn sanitize_escapes_controls_only() {
        assert_eq!(
            sanitize("plain text, tabs\tand ü"),
            "plain text, tabs\tand ü"
        );
        assert_eq!(
            sanitize("evil\u{1b}[31mRED\nname"),
            "evil\\u{1b}[31mRED\\nname"
        );
        assert_eq!(sanitize("\u{7f}\u{9b}"), "\\u{7f}\\u{9b}");
        assert_eq!(sanitize_bytes(b"a\xffb\x1b"), "a\\xffb\\u{1b}");
    }

    #[test]
    fn long_lines_are_clipped_and_counted() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("abcd", 4), "abcd");
        assert_eq!(clip("abcdef", 4), "ab… (2 characters left out) …ef");
        assert_eq!(clip("abcde", 4), "ab… (1 character left out) …de");
        assert_eq!(clip("abcdefg", 3), "ab… (4 characters left out) …g");
        assert_eq!(clip("ééééé", 2), "é… (3 characters left out) …é");
        assert_eq!(clip("abc", 1), "a… (2 characters left out) …");
        let huge = "x".repeat(5_000_000);
        let msg = for_stderr(&format!(
            "line 1: bad `{huge}`: the reason\nhint: fine\n\u{1b}]0;t\u{7}"
        ));
        let lines: Vec<&str> = msg.split('\n').collect();
        assert_eq!(lines.len(), 3);
        let marker = "… (4999626 characters left out) …";
        assert!(lines[0].contains(marker), "{}", &lines[0][..50]);
        assert!(lines[0].starts_with("line 1: bad `x"), "{}", lines[0]);
        assert!(lines[0].ends_with("x`: the reason"), "{}", lines[0]);
        assert_eq!(
            lines[0].chars().count(),
            MAX_MESSAGE_LINE + marker.chars().count()
        );
        assert_eq!(lines[1], "hint: fine");
        assert_eq!(lines[2], "\\u{1b}]0;t\\u{7}");
    }

    /// Issue 16: with a long path, the message was cut before the
    /// operating system's reason. A real `ENAMETOOLONG`, shown as `main`
    /// shows errors.
    #[test]
    fn long_paths_keep_the_operating_systems_reason() {
        let path = std::env::temp_dir().join("d".repeat(5000));
        let source = std::fs::read(&path).unwrap_err();
        let reason = source.to_string();
        assert!(reason.contains("os error 36"), "{reason}");
        let message = format!("cannot read `{}`: {source}", path.display());
        let shown = for_stderr(&message);
        assert!(shown.ends_with(&format!("ddd`: {reason}")), "{shown}");
        assert!(shown.starts_with("cannot read `"), "{shown}");
        assert!(shown.chars().count() < MAX_MESSAGE_LINE + 50, "{shown}");
    }

    #[test]
    fn dot_and_markup_escapes_leave_no_controls() {
        assert_eq!(dot_quoted("plain-1.0"), "plain-1.0");
        assert!(matches!(dot_quoted("plain"), Cow::Borrowed(_)));
        assert_eq!(dot_quoted(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(dot_quoted("x\u{1b}[2J\n"), r"x\\u{1b}[2J\\n");
        assert_eq!(
            markup_escape("<b a='1'>&\u{1b}\u{7}\u{fffe}\u{ffff}\t"),
            "&lt;b a=&#39;1&#39;&gt;&amp;\\u{1b}\\u{7}\u{fffd}\u{fffd}\t"
        );
        assert!(matches!(markup_escape("ü plain"), Cow::Borrowed(_)));
        for escaped in [
            dot_quoted("a\u{0}\u{1f}\u{7f}\u{85}b"),
            markup_escape("a\u{0}\u{1f}\u{7f}\u{85}b"),
        ] {
            assert!(!escaped.chars().any(char::is_control), "{escaped}");
        }
    }
}
