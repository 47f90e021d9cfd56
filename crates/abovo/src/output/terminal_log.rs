//! Build logs on their way to a terminal: [`TerminalLogFilter`] takes out
//! every escape sequence but colours, chunk by chunk, so that a builder's
//! output cannot drive the user's terminal.

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

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use crate::output::sanitize_bytes;

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
