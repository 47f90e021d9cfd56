//! libgcrypt's S-expressions in their advanced (printed) form: what a Guix
//! `Signature:` holds, and Guix's key files (`/etc/guix/acl`,
//! `signing-key.{pub,sec}`).
//!
//! ```text
//! sexp  = list | atom
//! list  = "(" { sexp } ")"
//! atom  = token | "#" hex "#" | '"' string '"'
//! token = 1*( ALPHA | DIGIT | "-" | "." | "/" | "_" | ":" | "*" | "+" | "=" )
//! ```
//!
//! White space separates items and may stand inside `#…#`. Every atom is
//! its bytes (a token's, the decoded hex's, the unescaped string's): libgcrypt
//! does not tell them apart either. Canonical length-prefixed atoms
//! (`3:abc`) are not used by Guix and are refused. Lists nest at most
//! [`MAX_DEPTH`] deep, so a hostile file cannot exhaust the stack.

/// How deep lists may nest (Guix's deepest, a signature, nests 4 deep).
pub const MAX_DEPTH: usize = 32;

/// An S-expression: a list, or an atom's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sexp {
    /// A token, `#hex#` or string, as bytes.
    Atom(Vec<u8>),
    /// A list.
    List(Vec<Sexp>),
}

/// Text that is not an S-expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct SexpError {
    /// Byte offset in the text.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl Sexp {
    /// Parses exactly one S-expression (white space around it allowed).
    pub fn parse(input: &[u8]) -> Result<Sexp, SexpError> {
        let mut pos = 0;
        let value = parse_value(input, &mut pos, 0)?;
        skip_space(input, &mut pos);
        if pos != input.len() {
            return Err(SexpError {
                offset: pos,
                reason: "data after the expression".into(),
            });
        }
        Ok(value)
    }

    /// Parses every S-expression of `input`, one after another (an ACL file
    /// may hold several keys).
    pub fn parse_all(input: &[u8]) -> Result<Vec<Sexp>, SexpError> {
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            skip_space(input, &mut pos);
            if pos == input.len() {
                return Ok(out);
            }
            out.push(parse_value(input, &mut pos, 0)?);
        }
    }

    /// The first item of a list, when it is an atom.
    pub fn head(&self) -> Option<&[u8]> {
        match self {
            Sexp::List(items) => match items.first() {
                Some(Sexp::Atom(a)) => Some(a),
                _ => None,
            },
            Sexp::Atom(_) => None,
        }
    }

    /// The items of this list (its head included) when its head is `name`.
    pub fn list_named(&self, name: &str) -> Option<&[Sexp]> {
        match self {
            Sexp::List(items) if self.head() == Some(name.as_bytes()) => Some(items),
            _ => None,
        }
    }
}

/// The items of the first sub-list of `items` whose head is `name`.
pub fn find<'a>(items: &'a [Sexp], name: &str) -> Option<&'a [Sexp]> {
    items.iter().find_map(|i| i.list_named(name))
}

/// The atom at `index` of `items`, if it is one.
pub fn atom(items: &[Sexp], index: usize) -> Option<&[u8]> {
    match items.get(index)? {
        Sexp::Atom(a) => Some(a),
        Sexp::List(_) => None,
    }
}

fn skip_space(input: &[u8], pos: &mut usize) {
    while *pos < input.len() && input[*pos].is_ascii_whitespace() {
        *pos += 1;
    }
}

fn parse_value(input: &[u8], pos: &mut usize, depth: usize) -> Result<Sexp, SexpError> {
    let err = |offset: usize, reason: &str| SexpError {
        offset,
        reason: reason.to_owned(),
    };
    if depth > MAX_DEPTH {
        return Err(err(*pos, "lists nested too deeply"));
    }
    skip_space(input, pos);
    match input.get(*pos) {
        None => Err(err(*pos, "unexpected end")),
        Some(b'(') => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                skip_space(input, pos);
                match input.get(*pos) {
                    None => return Err(err(*pos, "unclosed list")),
                    Some(b')') => {
                        *pos += 1;
                        return Ok(Sexp::List(items));
                    }
                    Some(_) => items.push(parse_value(input, pos, depth + 1)?),
                }
            }
        }
        Some(b')') => Err(err(*pos, "unexpected `)`")),
        Some(b'#') => {
            let start = *pos + 1;
            let end = input[start..]
                .iter()
                .position(|&b| b == b'#')
                .map(|i| start + i)
                .ok_or_else(|| err(*pos, "unclosed `#…#`"))?;
            let hex: Vec<u8> = input[start..end]
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if hex.len() % 2 != 0 || !hex.iter().all(u8::is_ascii_hexdigit) {
                return Err(err(start, "not hexadecimal"));
            }
            let bytes = hex
                .chunks(2)
                .map(|c| {
                    let digit = |d: u8| (d as char).to_digit(16).unwrap_or(0) as u8; // checked above
                    digit(c[0]) << 4 | digit(c[1])
                })
                .collect();
            *pos = end + 1;
            Ok(Sexp::Atom(bytes))
        }
        Some(b'"') => {
            let mut out = Vec::new();
            let mut i = *pos + 1;
            loop {
                match input.get(i) {
                    None => return Err(err(*pos, "unclosed string")),
                    Some(b'"') => break,
                    Some(b'\\') => {
                        let c = *input.get(i + 1).ok_or_else(|| err(i, "unclosed string"))?;
                        out.push(match c {
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            other => other,
                        });
                        i += 2;
                    }
                    Some(&b) => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            *pos = i + 1;
            Ok(Sexp::Atom(out))
        }
        Some(_) => {
            let start = *pos;
            while *pos < input.len() && is_token_byte(input[*pos]) {
                *pos += 1;
            }
            if *pos == start {
                return Err(err(start, "unexpected character"));
            }
            Ok(Sexp::Atom(input[start..*pos].to_vec()))
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-./_:*+=".contains(&b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn lists_atoms_hex_and_strings_parse() {
        let all = Sexp::parse_all(b" (a #0A 0b# \"x\\\"y\") (b)\n").unwrap();
        assert_eq!(
            all,
            [
                Sexp::List(vec![
                    Sexp::Atom(b"a".to_vec()),
                    Sexp::Atom(vec![0x0a, 0x0b]),
                    Sexp::Atom(b"x\"y".to_vec()),
                ]),
                Sexp::List(vec![Sexp::Atom(b"b".to_vec())]),
            ]
        );
        let a = find(&all, "a").unwrap();
        assert_eq!(atom(a, 1), Some(&[0x0a, 0x0b][..]));
        assert_eq!(find(&all, "c"), None);
        assert!(Sexp::parse(b"(a) (b)").is_err());
        assert_eq!(Sexp::parse_all(b"  ").unwrap(), []);
    }

    #[test]
    fn bad_input_names_the_byte() {
        for (text, offset, reason) in [
            (&b"(acl (entry"[..], 11, "unclosed list"),
            (b"(q #ZZ#)", 4, "not hexadecimal"),
            (b"(q #00)", 3, "unclosed `#…#`"),
            (b"a)", 1, "data after"),
            (b")", 0, "unexpected `)`"),
            (b"(a ['])", 3, "unexpected character"),
        ] {
            let e = Sexp::parse(text).unwrap_err();
            assert_eq!(e.offset, offset, "{e}");
            assert!(e.reason.contains(reason), "{e}");
        }
        let deep = "(".repeat(MAX_DEPTH + 2);
        let e = Sexp::parse(deep.as_bytes()).unwrap_err();
        assert!(e.reason.contains("too deeply"), "{e}");
    }
}
