//! How answers reach the user: output formats, colours, progress and error
//! messages.
//!
//! Colour and progress are decided once per stream, here: colours only when
//! the stream is a terminal (and `NO_COLOR` is unset, unless `--color always`),
//! progress bars only on a terminal standard error and never with `--quiet`.

use crate::cli::{ColorChoice, GlobalArgs};
use clap::ValueEnum;
use clap::builder::{PossibleValuesParser, TypedValueParser};
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
    /// errors often show their source in their own message.
    pub fn error(&self, e: &anyhow::Error) {
        let mut err = io::stderr().lock();
        let label = paint(self.color_stderr, "1;31", "error:");
        let mut shown = e.to_string();
        let _ = writeln!(err, "abovo: {label} {}", sanitize_lines(&shown));
        for cause in e.chain().skip(1) {
            let text = cause.to_string();
            if shown.contains(&text) {
                continue;
            }
            let _ = writeln!(err, "  caused by: {}", sanitize_lines(&text));
            shown = text;
        }
    }

    /// Prints a note on standard error unless `--quiet`.
    pub fn note(&self, message: &str) {
        if self.notes {
            let label = paint(self.color_stderr, "1;36", "note:");
            let _ = writeln!(io::stderr().lock(), "abovo: {label} {message}");
        }
    }

    /// Prints a warning on standard error (even with `--quiet`).
    pub fn warn(&self, message: &str) {
        let label = paint(self.color_stderr, "1;33", "warning:");
        let _ = writeln!(io::stderr().lock(), "abovo: {label} {message}");
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
pub fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
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

/// Writes `value` as pretty JSON and a newline on standard output.
pub fn print_json<T: serde::Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
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
mod tests {
    use super::*;

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
}
