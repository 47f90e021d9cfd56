//! `abovo show`'s "how it is built" section through the real binary: the
//! built-in data (guile-bootstrap's builder script out of the box), the
//! real bootstrap executables (`ABOVO_SEED_BYTES`), the corpus's sources
//! archive (`ABOVO_GUIX_CORPUS`), and hand-made stores for hostile text.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;

use cli_support::{ERROR, S, SUCCESS, abovo, code, json, stderr, stdout, write_drv};
use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = "nmxl6qyj16bv4rx4irhg23r66gn752kd-build-bootstrap-guile.sh";
const BUILT_IN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../data/guix-1.5.0-hello-items.tar.zst"
);

/// The script as GNU tar extracts it from the built-in items.
fn script_text() -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("zstd -dc '{BUILT_IN}' | tar -xO '{SCRIPT}'"))
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn show_guile_bootstrap_prints_its_builder_script_out_of_the_box() {
    let o = abovo(&["show", "--derivation", "guile-bootstrap"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("How guile-bootstrap-2.0 is built\n"),
        "{out}"
    );
    assert!(
        out.contains("\n  builder:     /gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!("  arguments:\n    /gnu/store/{SCRIPT}\n")),
        "{out}"
    );
    assert!(
        out.contains(
            "    GUILE_TARBALL=/gnu/store/3aigj659vsjxcrhn0r0vmkbjh3kj5pbs-guile-2.0.9.tar.xz\n"
        ),
        "{out}"
    );
    // Every line of build-bootstrap-guile.sh, in order.
    let text = script_text();
    assert!(text.contains("GUILE_TARBALL"));
    let shown: String = text.lines().map(|l| format!("    │ {l}\n")).collect();
    assert!(out.contains(&shown), "{out}");
    assert!(
        out.contains("text, 1.1 KiB (1,105 bytes), 11 lines:"),
        "{out}"
    );
    // The same in JSON, with the script's whole text.
    let v = json(&abovo(&["show", "guile-bootstrap", "-f", "recipe-json"]));
    assert_eq!(v["name"], "guile-bootstrap-2.0");
    assert_eq!(v["arguments"][0], format!("/gnu/store/{SCRIPT}"));
    assert_eq!(
        v["input_derivations"][0]["path"],
        "/gnu/store/6dcb3x4y3585ds5qhz5xfcvl2a274f52-tar.drv"
    );
    assert_eq!(v["input_derivations"][0]["outputs"][0], "out");
    assert_eq!(v["input_sources"][0], format!("/gnu/store/{SCRIPT}"));
    assert_eq!(
        v["read_from"],
        "the built-in items (the .drv files and sources of hello's closure, Guix 1.5.0)"
    );
    let env = v["environment"].as_array().unwrap();
    assert!(env.iter().any(|e| e["name"] == "GUILE_TARBALL"), "{v}");
    let item = &v["items"][0];
    assert_eq!(item["role"], "input-source");
    assert_eq!(item["summary"]["content"]["type"], "text");
    assert_eq!(item["summary"]["content"]["text"], text.as_str());
    assert_eq!(item["summary"]["size"], 1105);
    // The builder and the fixed outputs are named, not at hand.
    let roles: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.iter().filter(|r| **r == "builder").count(), 1);
    assert_eq!(roles.iter().filter(|r| **r == "fixed-output").count(), 4);
    assert!(v["items"][1]["summary"].is_null());
    // `aterm` and `json` still print the derivation itself.
    let o = abovo(&["show", "guile-bootstrap", "-f", "aterm"]);
    assert!(stdout(&o).starts_with(
        "Derive([(\"out\",\"/gnu/store/lgi9x15a0w35mcpd7g1kb9274r6wy4pv-guile-bootstrap-2.0\""
    ));
    let v = json(&abovo(&[
        "show",
        "--derivation",
        "guile-bootstrap",
        "-f",
        "json",
    ]));
    assert_eq!(
        v["builder"],
        "/gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash"
    );
}

#[test]
fn show_describes_the_real_bootstrap_executables() {
    let Some(seeds) = std::env::var_os("ABOVO_SEED_BYTES").map(PathBuf::from) else {
        println!("skipped: ABOVO_SEED_BYTES is not set");
        return;
    };
    let o = abovo(&[
        "show",
        "--derivation",
        "guile-bootstrap",
        "--sources",
        seeds.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    for (name, bytes) in [
        ("mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash", "1,351,732"),
        ("jc2g1wcfwkxr7hindy29s744sgxn1w63-mkdir", "714,316"),
        ("k015iy4mrrbd5vf2ihz40ai8swlvcj2p-tar", "1,285,420"),
        ("qc9b01x31ayxb36r0zw5cw28awisdq98-xz", "861,836"),
    ] {
        let block = out
            .split("\n\n")
            .find(|b| b.starts_with(&format!("/gnu/store/{name}\n")))
            .unwrap_or_else(|| panic!("{name}: {out}"));
        assert!(
            block.contains(&format!("ELF 32-bit LSB executable, Intel 80386, {}", ""))
                && block.contains(&format!("({bytes} bytes), executable")),
            "{block}"
        );
    }
    // The script still comes from the built-in items.
    assert!(out.contains("What it reads: 6 items, 5 at hand"), "{out}");
    assert!(out.contains("1 item not at hand: --sources PATH"), "{out}");
}

#[test]
fn show_from_the_graph_alone_and_the_sources_archive() {
    // python's .drv is not among the built-in items: what the graph knows.
    let o = abovo(&["show", "--derivation", "python"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("read from:   the graph alone"), "{out}");
    assert!(
        out.contains("arguments:   unknown (not in the graph)"),
        "{out}"
    );
    assert!(
        out.contains("-python-3.11.14-builder\n  input source\n  not at hand"),
        "{out}"
    );
    let Some(corpus) = std::env::var_os("ABOVO_GUIX_CORPUS").map(PathBuf::from) else {
        println!("skipped: ABOVO_GUIX_CORPUS is not set");
        return;
    };
    // With the corpus's sources archive, its builder script is printed.
    let archive = corpus.join("sources.tar.zst");
    let o = abovo(&[
        "show",
        "--derivation",
        "python",
        "--sources",
        archive.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "-python-3.11.14-builder\n  input source\n  from `{}`\n  text,",
            archive.display()
        )),
        "{out}"
    );
    assert!(out.contains("    │ (begin (use-modules (ice-9 ftw) (ice-9 match) (guix build utils) (guix build gnu-build-system))"), "{out}");
    // With the corpus folder as the source, the .drv is read too.
    let o = abovo(&[
        "show",
        "--derivation",
        "python",
        "--source",
        corpus.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("  arguments:\n    --no-auto-compile\n"),
        "{out}"
    );
    assert!(
        out.contains("    │ (begin (use-modules (ice-9 ftw)"),
        "{out}"
    );
}

#[test]
fn show_escapes_what_it_prints_and_bounds_long_items() {
    let dir = tempfile::tempdir().unwrap();
    let app = "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app-1.0.drv";
    write_drv(dir.path(), app, &[], &[S], false);
    let mut script = String::from("#!/bin/sh\necho \u{1b}[31mred\u{1b}[0m\n");
    for i in 0..300 {
        script.push_str(&format!("echo line {i}\n"));
    }
    std::fs::write(dir.path().join(S), &script).unwrap();
    let d = dir.path().to_str().unwrap();
    let o = abovo(&["show", "app", "--source", d, "--color", "never"]);
    assert_eq!(code(&o), SUCCESS, "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}'), "{out}");
    assert!(
        out.contains("    │ echo \\u{1b}[31mred\\u{1b}[0m\n"),
        "{out}"
    );
    assert!(out.contains(", 302 lines:"), "{out}");
    assert!(out.contains("    │ echo line 197\n"), "{out}");
    assert!(!out.contains("echo line 198\n"), "{out}");
    assert!(
        out.contains(&format!(
            "    … 102 more lines (abovo cat /gnu/store/{S} prints all; --max-lines N shows more)"
        )),
        "{out}"
    );
    let o = abovo(&["show", "app", "--source", d, "--max-lines", "0"]);
    assert!(stdout(&o).contains("    │ echo line 299\n"));
    assert!(!stdout(&o).contains("more lines"));
    // A binary input source is described, not printed.
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    elf.resize(4096, 0);
    elf[16] = 2;
    elf[18] = 62;
    std::fs::write(dir.path().join(S), &elf).unwrap();
    let o = abovo(&["show", "app", "--source", d]);
    let out = stdout(&o);
    assert!(
        out.contains("  ELF 64-bit LSB executable, x86-64, 4.0 KiB (4,096 bytes)"),
        "{out}"
    );
    // Not a derivation.
    let o = abovo(&["show", &format!("/gnu/store/{S}"), "--source", d]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("is a source"), "{}", stderr(&o));
}
