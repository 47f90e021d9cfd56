//! The Scheme that `builtin:download` reads from a derivation and its
//! inputs (`abovo build`, `abovo fetch`): the `url` value, the `mirrors`
//! association list and the `content-addressed-mirrors` program, which is
//! evaluated. On arbitrary text: never a panic, a stack overflow or memory
//! without bound, whatever the program does; what reads as data prints
//! back to text that reads as the same data; every URL a mirror list
//! expands to starts with one of its bases.
#![no_main]
use abovo_fetch::download::{content_addressed_urls, expand_mirror, parse_mirrors};
use abovo_fetch::sexp::{Value, read_all};
use abovo_store::{Hash, HashAlgo};
use libfuzzer_sys::fuzz_target;

/// Scheme text for a datum the reader gave (no procedures: it never makes
/// them). Strings escape `"` and `\`, control characters as `\xHH;`.
fn print(v: &Value, out: &mut String) {
    match v {
        Value::Str(s) => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_control() => out.push_str(&format!("\\x{:x};", u32::from(c))),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Value::Sym(s) | Value::Num(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "#t" } else { "#f" }),
        Value::List(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print(item, out);
            }
            out.push(')');
        }
        Value::Bytes(_) | Value::Closure(_) => panic!("the reader made {}", v.describe()),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(forms) = read_all(text) {
        let mut printed = String::new();
        for f in &forms {
            print(f, &mut printed);
            printed.push('\n');
        }
        let again = read_all(&printed).expect("printed data reads back");
        let mut reprinted = String::new();
        for f in &again {
            print(f, &mut reprinted);
            reprinted.push('\n');
        }
        assert_eq!(printed, reprinted);
    }
    if let Ok(mirrors) = parse_mirrors(text) {
        // A name with a `/` cannot be named in a `mirror://` URL.
        for (name, bases) in mirrors.iter().filter(|(n, _)| !n.contains('/')) {
            let url = format!("mirror://{name}/some/file.tar.gz");
            let urls = expand_mirror(&url, &mirrors).expect("a listed mirror expands");
            assert_eq!(urls.len(), bases.len());
            for (u, b) in urls.iter().zip(bases) {
                assert!(u.starts_with(b.as_str()), "{u} from {b}");
            }
        }
    }
    let hash = Hash::new(HashAlgo::Sha256, &[0x5a; 32]).expect("a SHA-256 digest");
    let _ = content_addressed_urls(text, "hello-2.12.2.tar.gz", &hash);
});
