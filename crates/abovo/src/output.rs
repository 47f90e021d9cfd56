//! How answers reach the user: output formats, colours, progress and error
//! messages.
//!
//! Colour and progress are decided once per stream, here: colours only when
//! the stream is a terminal (and `NO_COLOR` is unset, unless `--color always`),
//! progress bars only on a terminal standard error and never with `--quiet`.

use crate::cli::{ColorChoice, GlobalArgs};
use clap::ValueEnum;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

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
    if printable_ascii_without(text, b"") || !text.chars().any(is_unsafe_char) {
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
    if printable_ascii_without(text, b"\"\\")
        || !text
            .chars()
            .any(|c| c == '"' || c == '\\' || is_unsafe_char(c))
    {
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
    let special = |c: char| {
        matches!(c, '&' | '<' | '>' | '"' | '\'' | '\u{fffe}' | '\u{ffff}') || is_unsafe_char(c)
    };
    if printable_ascii_without(text, b"&<>\"'") || !text.chars().any(special) {
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

/// Whether `text` is printable ASCII (space to `~`) without a byte of
/// `special`: nearly every text a report escapes (store paths, names,
/// versions), found byte by byte, which is several times faster than
/// decoding characters; the escapers return such text as it is. (A graph
/// in DOT quotes 85,000 paths.)
fn printable_ascii_without(text: &str, special: &[u8]) -> bool {
    text.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && !special.contains(&b))
}

fn is_unsafe_char(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// Takes terminal control sequences out of a build log on its way to a
/// terminal, keeping its colours: builders print what they like, and a log
/// must not set the window title, clear the screen, move the cursor or
/// answer back through the terminal. Like Nix, SGR sequences (`ESC [ … m`
/// with only digits, `;` and `:` as parameters) are kept; every other
/// escape sequence goes: CSI (`ESC [`), the strings OSC, DCS, SOS, PM and
/// APC (up to BEL or `ESC \`), `ESC (` and other multi-byte escapes, two-byte
/// escapes such as `ESC c` (reset), and C1 controls written in UTF-8 (which
/// some terminals obey as well). All other bytes, `\r` and invalid UTF-8
/// included, pass unchanged.
///
/// It is a state machine fed chunk by chunk, so a sequence split between
/// two reads of a builder's output is still recognised: use one filter per
/// log stream, [`TerminalLogFilter::push`] every chunk and
/// [`TerminalLogFilter::finish`] at the end. A log that does not go to a
/// terminal (a file, a pipe) is data and should be written unfiltered.
///
/// `abovo log` uses it when standard output is a terminal; the live logs
/// of `abovo build -L` on a terminal standard error want one filter per
/// derivation, in the reporter's `log` callback, before lines are
/// prefixed.
#[derive(Debug, Clone, Default)]
pub struct TerminalLogFilter {
    state: EscapeState,
    /// The bytes of the CSI sequence read so far (`ESC [` and parameters),
    /// written out only if it turns out to be SGR.
    csi: Vec<u8>,
    /// How many bytes of a control string were swallowed.
    string_len: usize,
    /// The last byte written: a 0xC2 written alone must not meet a
    /// 0x80–0x9F that comes after a dropped sequence, which would make a
    /// C1 control out of two harmless pieces.
    last_written: u8,
}

/// Where [`TerminalLogFilter`] is in a sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum EscapeState {
    /// Plain text.
    #[default]
    Ground,
    /// After ESC.
    Escape,
    /// After ESC and intermediate bytes (`ESC (`), before the final byte.
    EscapeIntermediate,
    /// Inside `ESC [`, in its parameter and intermediate bytes.
    Csi,
    /// Inside a control string (OSC, DCS, SOS, PM, APC).
    String,
    /// After ESC inside a control string: `\` ends it.
    StringEscape,
    /// After 0xC2, the first byte of a UTF-8 C1 control (U+0080–U+009F)
    /// or of an ordinary character.
    Utf8Lead,
}

/// The longest CSI sequence kept whole; a longer one is dropped (real SGR
/// sequences are a few dozen bytes).
const MAX_CSI: usize = 256;
/// The longest control string swallowed; past it the rest of the string
/// is printed as text (its ESC is gone, so the terminal sees only text)
/// rather than losing the rest of a log to a string never ended.
const MAX_CONTROL_STRING: usize = 1 << 16;

impl TerminalLogFilter {
    /// A filter at the start of a log.
    pub fn new() -> TerminalLogFilter {
        TerminalLogFilter::default()
    }

    /// Filters the next chunk of the log into `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let mut rest = input;
        while !rest.is_empty() {
            if self.state == EscapeState::Ground {
                // Copy plain text in runs.
                if self.last_written == 0xc2 && (0x80..=0x9f).contains(&rest[0]) {
                    rest = &rest[1..];
                    continue;
                }
                let run = rest
                    .iter()
                    .position(|&b| b == 0x1b || b == 0xc2)
                    .unwrap_or(rest.len());
                if run > 0 {
                    out.extend_from_slice(&rest[..run]);
                    self.last_written = rest[run - 1];
                }
                rest = &rest[run..];
                if rest.is_empty() {
                    break;
                }
            }
            self.byte(rest[0], out);
            rest = &rest[1..];
        }
    }

    /// Ends the log: a sequence left unfinished is dropped, a lone 0xC2
    /// written.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.state == EscapeState::Utf8Lead {
            self.write(0xc2, out);
        }
        self.reset();
    }

    fn write(&mut self, b: u8, out: &mut Vec<u8>) {
        out.push(b);
        self.last_written = b;
    }

    fn reset(&mut self) {
        self.state = EscapeState::Ground;
        self.csi.clear();
        self.string_len = 0;
    }

    fn byte(&mut self, b: u8, out: &mut Vec<u8>) {
        use EscapeState::*;
        match self.state {
            Ground => match b {
                0x1b => self.state = Escape,
                0xc2 => self.state = Utf8Lead,
                0x80..=0x9f if self.last_written == 0xc2 => {}
                _ => self.write(b, out),
            },
            Utf8Lead => {
                self.state = Ground;
                if (0x80..=0x9f).contains(&b) {
                    return; // a C1 control: dropped
                }
                self.write(0xc2, out);
                self.byte(b, out);
            }
            Escape => match b {
                b'[' => {
                    self.state = Csi;
                    self.csi.clear();
                    self.csi.extend_from_slice(b"\x1b[");
                }
                b']' | b'P' | b'X' | b'^' | b'_' => {
                    self.state = String;
                    self.string_len = 0;
                }
                0x1b => {}
                0x20..=0x2f => self.state = EscapeIntermediate,
                0x30..=0x7e => self.state = Ground,
                // Not a sequence: the ESC goes, the byte is text.
                _ => {
                    self.state = Ground;
                    self.byte(b, out);
                }
            },
            EscapeIntermediate => match b {
                0x20..=0x2f => {}
                0x30..=0x7e => self.state = Ground,
                _ => {
                    self.state = Ground;
                    self.byte(b, out);
                }
            },
            Csi => match b {
                0x20..=0x3f if self.csi.len() < MAX_CSI => self.csi.push(b),
                0x40..=0x7e => {
                    let params = &self.csi[2..];
                    if b == b'm'
                        && params
                            .iter()
                            .all(|&p| p.is_ascii_digit() || p == b';' || p == b':')
                    {
                        out.extend_from_slice(&self.csi);
                        self.write(b'm', out);
                    }
                    self.reset();
                }
                // Too long, or broken by a control or a non-ASCII byte:
                // dropped, and the byte is read afresh.
                _ => {
                    self.reset();
                    self.byte(b, out);
                }
            },
            String => match b {
                0x07 => self.reset(),
                0x1b => self.state = StringEscape,
                _ if self.string_len >= MAX_CONTROL_STRING => {
                    self.reset();
                    self.byte(b, out);
                }
                _ => self.string_len += 1,
            },
            StringEscape => {
                // ESC \ ends the string; ESC and anything else ends it too
                // and starts a new sequence, as terminals read it.
                self.reset();
                if b != b'\\' {
                    self.state = Escape;
                    self.byte(b, out);
                }
            }
        }
    }
}

/// [`TerminalLogFilter`] over a whole log at once.
pub fn strip_terminal_escapes(log: &[u8]) -> Vec<u8> {
    let mut filter = TerminalLogFilter::new();
    let mut out = Vec::with_capacity(log.len());
    filter.push(log, &mut out);
    filter.finish(&mut out);
    out
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
    let mut out = std::io::stdout().lock();
    out.write_all(report.as_bytes())?;
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

    /// The byte-by-byte shortcut of the escapers passes only what they
    /// would leave as it is, checked for every ASCII character.
    #[test]
    fn the_ascii_shortcut_passes_only_harmless_text() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            let text = c.to_string();
            let unsafe_or = |special: &str| is_unsafe_char(c) || special.contains(c);
            for (special, escaped) in [
                ("", sanitize(&text)),
                ("\"\\", dot_quoted(&text)),
                ("&<>\"'", markup_escape(&text)),
            ] {
                let short = printable_ascii_without(&text, special.as_bytes());
                assert_eq!(short, !unsafe_or(special) && c != '\t', "{c:?}");
                assert_eq!(escaped == text, !unsafe_or(special), "{c:?}");
            }
        }
        // Longer text: one byte outside the range is enough to go the long way.
        assert!(printable_ascii_without("/gnu/store/abc-hello-2.12.2.drv", b"\"\\"));
        assert!(!printable_ascii_without("/gnu/store/abc-héllo", b""));
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

    fn filtered_in_chunks(log: &[u8], chunk: usize) -> Vec<u8> {
        let mut filter = TerminalLogFilter::new();
        let mut out = Vec::new();
        for piece in log.chunks(chunk) {
            filter.push(piece, &mut out);
        }
        filter.finish(&mut out);
        out
    }

    #[test]
    fn logs_keep_colours_and_lose_other_sequences() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"plain\r\nline\tx\x07", b"plain\r\nline\tx\x07"),
            (
                b"\x1b[1;31mred\x1b[0m \x1b[38:5:208mo\x1b[m",
                b"\x1b[1;31mred\x1b[0m \x1b[38:5:208mo\x1b[m",
            ),
            (b"a\x1b[2Jb\x1b[Hc\x1b[?25ld", b"abcd"),
            (b"a\x1b]0;evil title\x07b\x1b]8;;http://x\x1b\\c", b"abc"),
            (b"a\x1bPq#0;2;0\x1b\\b\x1b_apc\x07c", b"abc"),
            (b"a\x1bcb\x1b(Bc\x1b7d\x1b", b"abcd"),
            (b"a\x1b[>4;2mb", b"ab"),
            (b"a\xc2\x9b2Jb\xc2\x9d0;t\xc2\xa9", b"a2Jb0;t\xc2\xa9"),
            (b"bad utf-8 \xff\xfe\xc2", b"bad utf-8 \xff\xfe\xc2"),
            // A control inside CSI breaks it; the rest is text.
            (b"a\x1b[1\nb", b"a\nb"),
            // ESC inside a string ends it and starts a new sequence.
            (b"a\x1b]0;t\x1b[31mred", b"a\x1b[31mred"),
        ];
        for (log, want) in cases {
            for chunk in [1, 2, 3, 1000] {
                assert_eq!(
                    filtered_in_chunks(log, chunk),
                    *want,
                    "{} in chunks of {chunk}",
                    sanitize_bytes(log)
                );
            }
        }
        // Dropping a sequence does not join a lone 0xC2 to a 0x9B.
        assert_eq!(strip_terminal_escapes(b"\xc2\x1b[\x9b2J"), b"\xc22J");
        // A string never ended costs at most MAX_CONTROL_STRING bytes.
        let mut log = b"\x1b]0;".to_vec();
        log.extend(std::iter::repeat_n(b'x', MAX_CONTROL_STRING + 10));
        assert_eq!(strip_terminal_escapes(&log), vec![b'x'; 12]);
    }

    #[test]
    fn filtered_logs_never_hold_a_non_sgr_escape() {
        // Every ESC left starts an SGR sequence, for any bytes in any chunks.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"\x1b\x1b\x1b[]P\\\x07;:0123mHJ?>\xc2\x9b\x9d\xa9\nax";
        for _ in 0..2000 {
            let mut log = Vec::new();
            for _ in 0..40 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                log.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let chunk = 1 + (seed % 7) as usize;
            let out = filtered_in_chunks(&log, chunk);
            assert_eq!(
                out,
                strip_terminal_escapes(&log),
                "chunking changes nothing"
            );
            for (i, _) in out.iter().enumerate().filter(|(_, b)| **b == 0x1b) {
                let tail = &out[i + 1..];
                assert_eq!(tail.first(), Some(&b'['), "{}", sanitize_bytes(&out));
                let end = tail
                    .iter()
                    .position(|b| *b == b'm')
                    .unwrap_or_else(|| panic!("{}", sanitize_bytes(&out)));
                assert!(
                    tail[1..end]
                        .iter()
                        .all(|b| b.is_ascii_digit() || *b == b';' || *b == b':')
                );
            }
            assert!(
                !out.windows(2)
                    .any(|w| w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1]))
            );
        }
    }
}
