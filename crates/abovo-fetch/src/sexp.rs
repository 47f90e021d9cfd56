//! Just enough Scheme to read what Guix gives its built-in builders.
//!
//! A `builtin:download` derivation carries Scheme data: its `url` variable
//! is a string literal or a list of them (`object->string` of the URL
//! list), its `mirrors` input is an association list
//! `((gnu "https://…/" …) …)`, and its `content-addressed-mirrors` input is
//! a small *program* that evaluates to a list of procedures
//! `(lambda (file algo hash) …)` returning URLs. [`read_all`] reads the data;
//! [`Evaluator`] runs the subset of Scheme those programs use: `begin`,
//! `define` (variables and procedures), `lambda`, `let`, `if`, `quote`,
//! `list`, `string-append`, `symbol->string`, `identity`,
//! `bytevector->nix-base32-string`, `bytevector->base16-string`; `use-modules`
//! is accepted and ignored. Anything else is an error that names the form,
//! never a guess.
//!
//! The text comes from derivations and store items that may be hostile, so
//! reading and evaluating are bounded: lists nest at most [`MAX_NESTING`]
//! deep, evaluation takes at most 100,000 steps and nests (forms inside
//! forms, calls inside calls) at most 256 deep, so that neither loops nor
//! exhausts the stack, and the values it makes or copies add up to at most
//! 16 MiB, so that a program that doubles a string or a list at every step
//! is stopped before it takes the machine's memory.

use std::collections::HashMap;
use std::rc::Rc;

/// A datum or a value.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string.
    Str(String),
    /// A symbol.
    Sym(String),
    /// A number (kept as written).
    Num(String),
    /// `#t` or `#f`.
    Bool(bool),
    /// A bytevector (only ever made by the caller: the hash).
    Bytes(Vec<u8>),
    /// A proper list.
    List(Vec<Value>),
    /// A procedure made by `lambda`.
    Closure(Rc<Closure>),
}

impl Value {
    /// What the value is, in words, for error messages: `the symbol
    /// `file:///x`` (the form a URL takes when its quotes are missing),
    /// `the string "…"`, `a list of 2 items`.
    pub fn describe(&self) -> String {
        match self {
            Value::Str(s) => format!("the string {s:?}"),
            Value::Sym(s) => format!("the symbol `{s}` (a bare word, not in double quotes)"),
            Value::Num(n) => format!("the number {n}"),
            Value::Bool(true) => "the boolean #t".into(),
            Value::Bool(false) => "the boolean #f".into(),
            Value::Bytes(b) => format!("a bytevector of {} bytes", b.len()),
            Value::List(items) if items.len() == 1 => "a list of 1 item".into(),
            Value::List(items) => format!("a list of {} items", items.len()),
            Value::Closure(_) => "a procedure".into(),
        }
    }
}

/// A user procedure: its parameters, body and defining environment.
#[derive(Debug)]
pub struct Closure {
    params: Vec<String>,
    body: Vec<Value>,
    env: Env,
}

type Env = Rc<Frame>;

#[derive(Debug, Default)]
struct Frame {
    vars: std::cell::RefCell<HashMap<String, Value>>,
    parent: Option<Env>,
}

impl Frame {
    fn lookup(&self, name: &str) -> Option<Value> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(v.clone());
        }
        self.parent.as_ref().and_then(|p| p.lookup(name))
    }

    /// The [`weight`] of what `name` is bound to, without copying it.
    fn weight_of(&self, name: &str) -> Option<usize> {
        if let Some(v) = self.vars.borrow().get(name) {
            return Some(weight(v));
        }
        self.parent.as_ref().and_then(|p| p.weight_of(name))
    }
}

/// How deep lists (and quotes) may nest in what [`read_all`] reads: Guix's
/// files nest a few levels; the reader and the evaluator recurse once per
/// level.
pub const MAX_NESTING: usize = 64;

/// Reads every datum in `text`; the error gives the byte offset.
pub fn read_all(text: &str) -> Result<Vec<Value>, String> {
    let mut r = Reader {
        s: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    let mut out = Vec::new();
    loop {
        r.skip_space();
        if r.pos >= r.s.len() {
            return Ok(out);
        }
        out.push(r.datum()?);
    }
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
    /// Lists and quotes open around the datum being read.
    depth: usize,
}

impl Reader<'_> {
    fn err(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn skip_space(&mut self) {
        while self.pos < self.s.len() {
            match self.s[self.pos] {
                b';' => {
                    while self.pos < self.s.len() && self.s[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                c if c.is_ascii_whitespace() => self.pos += 1,
                _ => break,
            }
        }
    }

    fn datum(&mut self) -> Result<Value, String> {
        self.skip_space();
        let Some(&c) = self.s.get(self.pos) else {
            return Err(self.err("unexpected end of input"));
        };
        if matches!(c, b'(' | b'\'') {
            if self.depth >= MAX_NESTING {
                return Err(self.err(&format!("lists nested more than {MAX_NESTING} deep")));
            }
            self.depth += 1;
            let d = self.compound(c);
            self.depth -= 1;
            return d;
        }
        match c {
            b')' => Err(self.err("unexpected `)`")),
            b'"' => self.string(),
            b'#' => {
                let tok = self.token();
                match tok.as_str() {
                    "#t" | "#true" => Ok(Value::Bool(true)),
                    "#f" | "#false" => Ok(Value::Bool(false)),
                    _ => Err(self.err(&format!("unsupported syntax `{tok}`"))),
                }
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.err("unexpected character"));
                }
                if tok.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                    Ok(Value::Num(tok))
                } else {
                    Ok(Value::Sym(tok))
                }
            }
        }
    }

    /// A list, or a quoted datum (`c` is `(` or `'`).
    fn compound(&mut self, c: u8) -> Result<Value, String> {
        self.pos += 1;
        if c == b'\'' {
            let d = self.datum()?;
            return Ok(Value::List(vec![Value::Sym("quote".into()), d]));
        }
        let mut items = Vec::new();
        loop {
            self.skip_space();
            match self.s.get(self.pos) {
                None => return Err(self.err("unclosed list")),
                Some(b')') => {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                Some(_) => items.push(self.datum()?),
            }
        }
    }

    fn token(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.s.len() {
            let c = self.s[self.pos];
            if c.is_ascii_whitespace() || c == b'(' || c == b')' || c == b'"' || c == b';' {
                break;
            }
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn string(&mut self) -> Result<Value, String> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(self.err("unterminated string"));
            };
            self.pos += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        return Err(self.err("unterminated string"));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'a' => out.push(7),
                        b'0' => out.push(0),
                        b'x' => {
                            let start = self.pos;
                            while self.s.get(self.pos).is_some_and(|&b| b != b';') {
                                self.pos += 1;
                            }
                            let hex = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                            let code = u32::from_str_radix(hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("bad \\x escape"))?;
                            self.pos += 1;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out)
            .map(Value::Str)
            .map_err(|_| self.err("string is not UTF-8"))
    }
}

/// Evaluates the Scheme subset described in the module docs.
pub struct Evaluator {
    global: Env,
    steps: usize,
    depth: usize,
    /// Bytes of values made or copied so far (see [`weight`]).
    allocated: usize,
}

/// A bound on evaluation steps, so that a hostile file cannot loop forever.
const MAX_STEPS: usize = 100_000;
/// A bound on nested evaluation (a form inside a form, a call inside a
/// call), so that it cannot exhaust the stack, even of a thread.
const MAX_DEPTH: usize = 256;
/// A bound on the bytes of all values evaluation makes or copies, so that
/// doubling a string or a list at each step cannot exhaust memory. Guix's
/// content-addressed mirrors program makes a few kilobytes.
const MAX_ALLOCATED: usize = 16 << 20;

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator {
            global: Rc::new(Frame::default()),
            steps: 0,
            depth: 0,
            allocated: 0,
        }
    }
}

/// About the memory `v` takes: its cells and the bytes of its text. Walked
/// with a stack of its own, as values may nest deeper than the reader's
/// lists (a program can wrap a list in a list at every step).
fn weight(v: &Value) -> usize {
    const CELL: usize = std::mem::size_of::<Value>();
    let mut total = 0usize;
    let mut todo = vec![v];
    while let Some(v) = todo.pop() {
        total = total.saturating_add(match v {
            Value::Str(s) | Value::Sym(s) | Value::Num(s) => CELL + s.len(),
            Value::Bytes(b) => CELL + b.len(),
            Value::List(items) => {
                todo.extend(items);
                CELL
            }
            Value::Bool(_) | Value::Closure(_) => CELL,
        });
    }
    total
}

fn sym(v: &Value) -> Option<&str> {
    match v {
        Value::Sym(s) => Some(s),
        _ => None,
    }
}

impl Evaluator {
    /// Evaluates every top-level form in order; returns the last value.
    pub fn eval_program(&mut self, forms: &[Value]) -> Result<Value, String> {
        let env = self.global.clone();
        let mut last = Value::Bool(false);
        for f in forms {
            last = self.eval(f, &env)?;
        }
        Ok(last)
    }

    /// Calls a procedure value with arguments.
    pub fn apply(&mut self, f: &Value, args: Vec<Value>) -> Result<Value, String> {
        match f {
            Value::Closure(c) => {
                if c.params.len() != args.len() {
                    return Err(format!(
                        "procedure expects {} arguments, got {}",
                        c.params.len(),
                        args.len()
                    ));
                }
                let frame = Rc::new(Frame {
                    vars: Default::default(),
                    parent: Some(c.env.clone()),
                });
                for (p, a) in c.params.iter().zip(args) {
                    frame.vars.borrow_mut().insert(p.clone(), a);
                }
                let mut last = Value::Bool(false);
                for form in &c.body {
                    last = self.eval(form, &frame)?;
                }
                Ok(last)
            }
            Value::Sym(name) => self.builtin(name, args),
            other => Err(format!("{} is not a procedure", other.describe())),
        }
    }

    fn builtin(&mut self, name: &str, args: Vec<Value>) -> Result<Value, String> {
        let one = |args: &[Value]| -> Result<Value, String> {
            match args {
                [a] => Ok(a.clone()),
                _ => Err(format!("`{name}` expects one argument")),
            }
        };
        match name {
            "list" => Ok(Value::List(args)),
            "identity" => one(&args),
            "string-append" => {
                let mut s = String::new();
                for a in &args {
                    match a {
                        Value::Str(x) => {
                            self.spend(x.len())?;
                            s.push_str(x);
                        }
                        other => {
                            return Err(format!(
                                "`string-append` expects strings, but got {}",
                                other.describe()
                            ));
                        }
                    }
                }
                Ok(Value::Str(s))
            }
            "symbol->string" => match one(&args)? {
                Value::Sym(s) => Ok(Value::Str(s)),
                other => Err(format!(
                    "`symbol->string` expects a symbol, but got {}",
                    other.describe()
                )),
            },
            "bytevector->nix-base32-string" => match one(&args)? {
                Value::Bytes(b) => Ok(Value::Str(abovo_store::nixbase32::encode(&b))),
                other => Err(format!(
                    "`{name}` expects a bytevector, but got {}",
                    other.describe()
                )),
            },
            "bytevector->base16-string" => match one(&args)? {
                Value::Bytes(b) => Ok(Value::Str(abovo_store::encoding::base16_encode(&b))),
                other => Err(format!(
                    "`{name}` expects a bytevector, but got {}",
                    other.describe()
                )),
            },
            _ => Err(format!("unsupported procedure `{name}`")),
        }
    }

    /// Counts `bytes` more of values made or copied; an error past
    /// [`MAX_ALLOCATED`].
    fn spend(&mut self, bytes: usize) -> Result<(), String> {
        self.allocated = self.allocated.saturating_add(bytes);
        if self.allocated > MAX_ALLOCATED {
            return Err(format!(
                "evaluation takes too much memory (its values pass {} MiB)",
                MAX_ALLOCATED >> 20
            ));
        }
        Ok(())
    }

    fn eval(&mut self, form: &Value, env: &Env) -> Result<Value, String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err("evaluation takes too long".into());
        }
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "evaluation takes too long (forms and calls nested more than {MAX_DEPTH} deep)"
            ));
        }
        self.depth += 1;
        let value = self.eval_form(form, env);
        self.depth -= 1;
        value
    }

    fn eval_form(&mut self, form: &Value, env: &Env) -> Result<Value, String> {
        match form {
            Value::Sym(name) => {
                // Looking a value up copies it.
                if let Some(w) = env.weight_of(name) {
                    self.spend(w)?;
                }
                env.lookup(name)
                    .or_else(|| is_builtin(name).then(|| Value::Sym(name.clone())))
                    .ok_or_else(|| format!("unbound variable `{name}`"))
            }
            Value::List(items) if items.is_empty() => Err("empty combination `()`".into()),
            Value::List(items) => {
                let head = sym(&items[0]);
                match head {
                    Some("quote") => {
                        let datum = items.get(1).ok_or("bad quote")?;
                        self.spend(weight(datum))?;
                        Ok(datum.clone())
                    }
                    Some("use-modules") => Ok(Value::Bool(false)),
                    Some("begin") => {
                        let mut last = Value::Bool(false);
                        for f in &items[1..] {
                            last = self.eval(f, env)?;
                        }
                        Ok(last)
                    }
                    Some("define") => self.define(items, env),
                    Some("lambda") => {
                        let params = params(items.get(1))?;
                        self.spend(items[2..].iter().map(weight).sum())?;
                        Ok(Value::Closure(Rc::new(Closure {
                            params,
                            body: items[2..].to_vec(),
                            env: env.clone(),
                        })))
                    }
                    Some("let") => {
                        let Some(Value::List(bindings)) = items.get(1) else {
                            return Err("bad let".into());
                        };
                        let frame = Rc::new(Frame {
                            vars: Default::default(),
                            parent: Some(env.clone()),
                        });
                        for b in bindings {
                            let Value::List(pair) = b else {
                                return Err("bad let binding".into());
                            };
                            let (Some(name), Some(expr)) =
                                (pair.first().and_then(sym), pair.get(1))
                            else {
                                return Err("bad let binding".into());
                            };
                            let v = self.eval(expr, env)?;
                            frame.vars.borrow_mut().insert(name.to_owned(), v);
                        }
                        let mut last = Value::Bool(false);
                        for f in &items[2..] {
                            last = self.eval(f, &frame)?;
                        }
                        Ok(last)
                    }
                    Some("if") => {
                        let c = self.eval(items.get(1).ok_or("bad if")?, env)?;
                        let branch = if matches!(c, Value::Bool(false)) {
                            3
                        } else {
                            2
                        };
                        match items.get(branch) {
                            Some(f) => self.eval(f, env),
                            None => Ok(Value::Bool(false)),
                        }
                    }
                    _ => {
                        let f = self.eval(&items[0], env)?;
                        let args = items[1..]
                            .iter()
                            .map(|a| self.eval(a, env))
                            .collect::<Result<Vec<_>, _>>()?;
                        self.apply(&f, args)
                    }
                }
            }
            other => {
                self.spend(weight(other))?;
                Ok(other.clone())
            }
        }
    }

    fn define(&mut self, items: &[Value], env: &Env) -> Result<Value, String> {
        match items.get(1) {
            Some(Value::Sym(name)) => {
                let v = self.eval(items.get(2).ok_or("bad define")?, env)?;
                env.vars.borrow_mut().insert(name.clone(), v);
            }
            Some(Value::List(sig)) if !sig.is_empty() => {
                let name = sym(&sig[0]).ok_or("bad define")?;
                let params = params(Some(&Value::List(sig[1..].to_vec())))?;
                self.spend(items[2..].iter().map(weight).sum())?;
                let c = Value::Closure(Rc::new(Closure {
                    params,
                    body: items[2..].to_vec(),
                    env: env.clone(),
                }));
                env.vars.borrow_mut().insert(name.to_owned(), c);
            }
            _ => return Err("bad define".into()),
        }
        Ok(Value::Bool(false))
    }
}

fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "list"
            | "identity"
            | "string-append"
            | "symbol->string"
            | "bytevector->nix-base32-string"
            | "bytevector->base16-string"
    )
}

fn params(v: Option<&Value>) -> Result<Vec<String>, String> {
    match v {
        Some(Value::List(ps)) => ps
            .iter()
            .map(|p| {
                sym(p)
                    .map(str::to_owned)
                    .ok_or_else(|| "bad parameter".into())
            })
            .collect(),
        _ => Err("bad parameter list".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    /// The shape of Guix's `%content-addressed-mirrors`, as `object->string`
    /// writes it into the store.
    const CA_MIRRORS: &str = r#"(begin (use-modules (guix base32)) (define (guix-publish host) (lambda (file algo hash) (string-append "https://" host "/file/" file "/" (symbol->string algo) "/" (bytevector->nix-base32-string hash)))) (list (guix-publish "bordeaux.guix.gnu.org") (lambda (file algo hash) (string-append "https://tarballs.nixos.org/" (symbol->string algo) "/" (bytevector->nix-base32-string hash))) (lambda (file algo hash) (identity (string-append "https://archive.softwareheritage.org/api/1/content/" (symbol->string algo) ":" (bytevector->base16-string hash) "/raw/")))))"#;

    #[test]
    fn content_addressed_mirrors_evaluate_to_urls() {
        let forms = read_all(CA_MIRRORS).unwrap();
        let mut ev = Evaluator::default();
        let Value::List(procs) = ev.eval_program(&forms).unwrap() else {
            panic!("not a list");
        };
        let urls: Vec<String> = procs
            .iter()
            .map(|p| {
                let args = vec![
                    Value::Str("hello-2.12.tar.gz".into()),
                    Value::Sym("sha256".into()),
                    Value::Bytes(vec![0xab; 32]),
                ];
                match ev.apply(p, args).unwrap() {
                    Value::Str(s) => s,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let h32 = abovo_store::nixbase32::encode(&[0xab; 32]);
        assert_eq!(
            urls[0],
            format!("https://bordeaux.guix.gnu.org/file/hello-2.12.tar.gz/sha256/{h32}")
        );
        assert_eq!(urls[1], format!("https://tarballs.nixos.org/sha256/{h32}"));
        assert!(urls[2].ends_with(&format!("sha256:{}/raw/", "ab".repeat(32))));
    }

    #[test]
    fn reads_url_lists_and_mirror_alists() {
        let v = read_all(r#"("mirror://cran/a.tar.gz" "https://x/\"q\".tgz")"#).unwrap();
        let Value::List(items) = &v[0] else { panic!() };
        assert!(matches!(&items[1], Value::Str(s) if s == r#"https://x/"q".tgz"#));
        let v = read_all(
            "((gnu \"https://ftpmirror.gnu.org/\") (xorg \"https://x.org/\" \"https://y/\"))",
        )
        .unwrap();
        let Value::List(items) = &v[0] else { panic!() };
        assert_eq!(items.len(), 2);
    }

    fn quote(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn string_lists_round_trip(items in proptest::collection::vec(".*", 0..8)) {
            let text = format!("({})", items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" "));
            let v = read_all(&text).unwrap();
            let Value::List(read) = &v[0] else { panic!("not a list") };
            let read: Vec<String> = read.iter().map(|x| match x {
                Value::Str(s) => s.clone(),
                other => panic!("{other:?}"),
            }).collect();
            proptest::prop_assert_eq!(read, items);
        }

        #[test]
        fn no_input_makes_it_panic(text in ".{0,200}") {
            if let Ok(forms) = read_all(&text) {
                let _ = Evaluator::default().eval_program(&forms);
            }
        }
    }

    // Found with the fuzz target `sexp` (fuzz/): a file of 200,000 `(`
    // crashed the reader with a stack overflow.
    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "(".repeat(200_000), ")".repeat(200_000));
        let err = read_all(&deep).unwrap_err();
        assert!(err.contains("nested more than 64 deep at byte 64"), "{err}");
        let quotes = format!("{}x", "'".repeat(200_000));
        assert!(read_all(&quotes).unwrap_err().contains("nested"));
        let limit = format!("{}{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(read_all(&limit).is_ok());
    }

    // Found with the fuzz target `sexp`: calls nested inside forms nested
    // inside calls took the stack (200 calls, each 60 forms deep), and
    // values doubled at every step took the memory.
    #[test]
    fn evaluation_is_bounded_in_depth_and_memory() {
        let nested = format!(
            "(define (f) {}(f){}) (f)",
            "(list ".repeat(60),
            ")".repeat(60)
        );
        let err = eval_text(&nested).unwrap_err();
        assert!(err.contains("nested more than 256 deep"), "{err}");
        let doubling = [
            r#"(define (f s) (f (string-append s s))) (f "x")"#.to_owned(),
            "(define (f l) (f (list l l))) (f 1)".to_owned(),
            format!(
                r#"(define s "x") {}"#,
                "(define s (string-append s s)) ".repeat(40)
            ),
        ];
        for program in &doubling {
            let err = eval_text(program).unwrap_err();
            assert!(err.contains("too much memory"), "{program}: {err}");
        }
    }

    fn eval_text(text: &str) -> Result<Value, String> {
        Evaluator::default().eval_program(&read_all(text)?)
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(read_all("(unclosed").unwrap_err().contains("unclosed list"));
        let forms = read_all("(system* \"rm\" \"-rf\" \"/\")").unwrap();
        let err = Evaluator::default().eval_program(&forms).unwrap_err();
        assert!(err.contains("unbound variable `system*`"), "{err}");
        let forms = read_all("(define (f) (f)) (f)").unwrap();
        let err = Evaluator::default().eval_program(&forms).unwrap_err();
        assert!(err.contains("too long"), "{err}");
    }
}
