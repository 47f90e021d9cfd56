//! Structured attributes: the `__json` environment variable of a Nix
//! derivation built with `__structuredAttrs = true`, whose value is the
//! attributes as JSON printed by Nix's JSON library (nlohmann's `dump()`).
//!
//! [`dump`] prints a JSON value exactly so: no whitespace, object keys in
//! byte order, strings escaped as nlohmann escapes them (`"` `\` and the
//! control characters, `\b` `\f` `\n` `\r` `\t` by name and the others as
//! `\u00xx` in lower-case hex; every other character as it is), integers
//! in decimal, and floating-point numbers as nlohmann writes them
//! ([`float`]). It is how `structuredAttrs` in JSON becomes the `__json`
//! bytes of the `.drv`, and how abovo decides whether a `__json` value can
//! be shown as `structuredAttrs` without losing its bytes.

use serde_json::Value;

/// The name of the variable that holds structured attributes.
pub const ENV_VAR: &str = "__json";

/// `value` printed as Nix prints structured attributes (see the
/// [module docs](self)).
pub fn dump(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

fn write(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else {
                out.push_str(&float(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                string(out, k);
                out.push(':');
                write(out, v);
            }
            out.push('}');
        }
    }
}

fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A double as nlohmann writes it: the shortest digits that read back to
/// it; in plain notation with at least one decimal (`1.0`, `0.001`) when
/// the decimal point falls within 15 digits of the start and no more
/// than 4 zeros before the first digit, otherwise as `d.ddde+XX` (an
/// exponent of at least two digits, with its sign). Not finite: `null`.
pub fn float(x: f64) -> String {
    if !x.is_finite() {
        return "null".into();
    }
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if x == 0.0 {
        return format!("{sign}0.0");
    }
    // Rust's shortest round-trip digits, `d.ddde±x`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    // The decimal point sits after `n` digits.
    let n = exp + 1;
    let body = if k <= n && n <= 15 {
        format!("{digits}{}.0", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 15 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -4 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let mant = if k == 1 {
            digits.clone()
        } else {
            format!("{}.{}", &digits[..1], &digits[1..])
        };
        format!(
            "{mant}e{}{:02}",
            if e < 0 { '-' } else { '+' },
            e.unsigned_abs()
        )
    };
    format!("{sign}{body}")
}

/// The structured attributes a `__json` value holds, when printing them
/// with [`dump`] gives the value's exact bytes: only then can they be
/// shown as an object without losing the bytes.
pub fn parse_exact(value: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(value).ok()?;
    let parsed: Value = serde_json::from_str(text).ok()?;
    (parsed.is_object() && dump(&parsed) == text).then_some(parsed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn floats_as_nlohmann_writes_them() {
        // nlohmann's own test cases (test-conversions, test-to_chars).
        for (x, want) in [
            (1.0, "1.0"),
            (-1.5, "-1.5"),
            (0.001, "0.001"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (1e15, "1e+15"),
            (1e100, "1e+100"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (12.34, "12.34"),
            (f64::NAN, "null"),
        ] {
            assert_eq!(float(x), want, "{x}");
        }
    }

    #[test]
    fn dump_sorts_keys_and_escapes_like_nix() {
        let v: Value =
            serde_json::from_str(r#"{"b":[1,-2,3.5,true,null],"a":"x\u0001\"\\\n\u007f é"}"#)
                .unwrap();
        assert_eq!(
            dump(&v),
            "{\"a\":\"x\\u0001\\\"\\\\\\n\u{7f} é\",\"b\":[1,-2,3.5,true,null]}"
        );
        // tvix's structured-attrs fixture holds Nix's bytes.
        let nix = br#"{"builder":":","name":"structured-attrs","system":":"}"#;
        assert!(parse_exact(nix).is_some());
        // Another order, spaces, or a non-object are kept as bytes.
        assert!(parse_exact(br#"{"system":":","name":"x"}"#).is_none());
        assert!(parse_exact(br#"{"a": 1}"#).is_none());
        assert!(parse_exact(b"[1]").is_none());
    }
}
