//! Evidence from bytes the user gives `abovo seeds` and `abovo audit`: files
//! in a seed directory (`--seed-dir`), accepted only when they hash to the
//! seed, and narinfos (`--narinfo`), checked against it; content scans and
//! what they say when they cannot finish.

#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_support;
mod cli_trust_support;

use cli_support::*;
use cli_trust_support::*;
use std::path::{Path, PathBuf};

fn text_tarball() -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let text = b"just text\n".repeat(100);
    let mut h = tar::Header::new_gnu();
    h.set_size(text.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    builder
        .append_data(&mut h, "blob/README", &text[..])
        .unwrap();
    builder.into_inner().unwrap()
}

#[test]
fn seed_bytes_give_content_evidence_and_sizes() {
    // The "platform" blob is really a text tarball; its bytes say so.
    let tarball = text_tarball();
    let t = small_tree_with(&tarball, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tar.gz"), &tarball).unwrap();
    let r = t.seeds_of_top(&["--seed-dir", seeds.path().to_str().unwrap()]);
    let blob = seed(&r, "blob-1.0-x86_64-linux.tar.gz")[0];
    assert_eq!(blob["evidence"]["type"], "content");
    assert_eq!(blob["kind"], "source");
    assert_eq!(blob["size"], tarball.len());
    assert_eq!(blob["size_source"], "bytes");
    assert_eq!(blob["content"]["format"], "tar");
    assert_eq!(blob["bytes_verified"], "fixed-output-hash");
}

/// The reviewer's case: a text file named `bash` in a seed directory must
/// not turn the bootstrap bash into source. Checked on the Guix graph.
#[test]
fn a_file_named_like_a_seed_but_not_it_is_ignored_and_reported() {
    let seeds = tempfile::tempdir().unwrap();
    let impostor = seeds.path().join("bash");
    std::fs::write(
        &impostor,
        "echo I am a shell script, not the bootstrap bash\n",
    )
    .unwrap();
    let dir = seeds.path().to_str().unwrap();
    let o = on_guix(&["seeds", "hello", "--seed-dir", dir, "--format", "json"]);
    let r = json(&o);
    let bash = seed(&r, "bash")[0];
    assert_eq!(bash["kind"], "binary");
    assert_eq!(bash["evidence"]["type"], "known", "{bash}");
    assert!(bash.get("bytes_at").is_none());
    let rejected = &bash["rejected_files"][0];
    assert_eq!(rejected["file"], impostor.to_str().unwrap());
    assert_eq!(rejected["reason"], "hash-mismatch");
    assert_eq!(rejected["method"], "nar");
    assert_eq!(
        rejected["expected"],
        "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g"
    );
    let actual = abovo_store::nar::hash_path(&impostor).unwrap().hash;
    assert_eq!(rejected["actual"], actual.to_string());
    assert!(
        stderr(&o).contains("warning: ignored 1 file"),
        "{}",
        stderr(&o)
    );

    // The text says so too, next to the seed and in a section of its own.
    let o = on_guix(&["seeds", "hello", "--seed-dir", dir]);
    assert_eq!(o.status.code(), Some(SUCCESS));
    let out = stdout(&o);
    assert!(
        out.contains("Warning: 1 file found under a seed's name, ignored"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "ignored:  `{}` is not this seed",
            impostor.display()
        )),
        "{out}"
    );
    assert!(out.contains(&actual.to_string()), "{out}");

    // And the audit lists it.
    let r = json(&on_guix(&[
        "audit",
        "--seed-dir",
        dir,
        "--format",
        "json",
        "--top",
        "1",
    ]));
    let files: Vec<&str> = r["rejected_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    // Both bootstrap bashes (i686 and armhf) are named `bash`; neither is this.
    assert_eq!(files, [impostor.to_str().unwrap(); 2]);
}

/// The NAR size of the i686 bootstrap bash: its 1,351,732 bytes (measured,
/// in the knowledge base) padded to 1,351,736, plus 144 bytes of framing
/// for an executable regular file.
const BASH_NAR_SIZE: u64 = 1_351_880;

fn bash_narinfo(dir: &Path, nar_hash: &str) -> PathBuf {
    bash_narinfo_sized(dir, nar_hash, BASH_NAR_SIZE)
}

fn bash_narinfo_sized(dir: &Path, nar_hash: &str, nar_size: u64) -> PathBuf {
    let file = dir.join("mzfkrxd4w8vqrmyrx169wj8wyw7r8i37.narinfo");
    std::fs::write(
        &file,
        format!(
            "StorePath: /gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\nURL: nar/lzip/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\n\
             Compression: lzip\nFileSize: 600000\nNarHash: {nar_hash}\nNarSize: {nar_size}\nReferences: \n"
        ),
    )
    .unwrap();
    file
}

#[test]
fn narinfos_are_checked_against_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    // The right NarHash (the recursive fixed-output hash): its size is used.
    bash_narinfo(
        dir.path(),
        "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g",
    );
    let r = json(&on_guix(&[
        "seeds",
        "hello",
        "--narinfo",
        d,
        "--format",
        "json",
    ]));
    let bash = seed(&r, "bash")[0];
    assert_eq!(bash["size"], BASH_NAR_SIZE);
    assert_eq!(bash["size_source"], "narinfo");

    // A NarSize too small for the measured bytes the knowledge base knows
    // is refused.
    bash_narinfo_sized(
        dir.path(),
        "sha256:0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g",
        1_230_664,
    );
    let o = on_guix(&["seeds", "hello", "--narinfo", d]);
    assert_eq!(o.status.code(), Some(ERROR));
    assert!(
        stderr(&o).contains("`NarSize` is 1230664"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("knowledge base"), "{}", stderr(&o));

    // A wrong one is refused, naming the file, the field and both hashes.
    let wrong = "sha256:1rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g";
    let file = bash_narinfo(dir.path(), wrong);
    let o = on_guix(&["seeds", "hello", "--narinfo", d]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(err.contains(file.to_str().unwrap()), "{err}");
    assert!(err.contains("`NarHash`"), "{err}");
    assert!(err.contains(wrong), "{err}");
    assert!(
        err.contains("0rjaxyzjdllfkf1abczvgaf3cdcc7mmahyvdbkjmjzhgz92pv23g"),
        "{err}"
    );
    assert!(stdout(&o).is_empty(), "no half report");

    // One that does not parse names the file and line.
    std::fs::write(
        &file,
        "StorePath: /gnu/store/mzfkrxd4w8vqrmyrx169wj8wyw7r8i37-bash\nNarSize 12\n",
    )
    .unwrap();
    let o = on_guix(&["audit", "--narinfo", d, "--format", "json"]);
    assert_eq!(o.status.code(), Some(ERROR));
    let err = stderr(&o);
    assert!(
        err.contains(file.to_str().unwrap()) && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn an_incomplete_scan_says_why() {
    // A gzip file whose one stored block claims 1,000 bytes and has 10:
    // the bytes are the seed (their hash is pinned), the scan cannot finish.
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    gz.extend_from_slice(&[1, 0xe8, 0x03, 0x17, 0xfc]);
    gz.extend_from_slice(b"0123456789");
    let t = small_tree_with(&gz, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tar.gz"), &gz).unwrap();
    let dir = seeds.path().to_str().unwrap();
    let r = t.seeds_of_top(&["--seed-dir", dir]);
    let blob = seed(&r, "blob-1.0-x86_64-linux.tar.gz")[0];
    assert_eq!(blob["content"]["complete"], false, "{blob}");
    let issue = blob["content"]["issues"][0].as_str().unwrap().to_owned();
    let out = stdout(&abovo(&[
        "seeds",
        "top",
        "--source",
        t.path(),
        "--seed-dir",
        dir,
    ]));
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("scan:"))
        .unwrap_or_else(|| panic!("no scan line: {out}"));
    assert!(line.contains("incomplete"), "{line}");
    assert!(line.contains(&issue), "{line} / {issue}");
}

#[test]
fn seed_dir_files_that_no_seed_uses_are_listed() {
    let tarball = text_tarball();
    let t = small_tree_with(&tarball, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
    let used = seeds.path().join("blob-1.0-x86_64-linux.tar.gz");
    std::fs::write(&used, &tarball).unwrap();
    // A file under a seed's name that is not it (reported as ignored), and
    // two that match no seed at all (a typo, a note).
    std::fs::write(seeds.path().join("src-1.0.tar.gz"), b"not the source").unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tgz"), &tarball).unwrap();
    std::fs::write(seeds.path().join("NOTES"), b"fetched on Monday\n").unwrap();
    let dir = seeds.path().to_str().unwrap();
    let r = t.seeds_of_top(&["--seed-dir", dir]);
    let unused: Vec<&str> = r["unused_seed_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(
        unused,
        [
            seeds.path().join("NOTES").to_str().unwrap(),
            seeds
                .path()
                .join("blob-1.0-x86_64-linux.tgz")
                .to_str()
                .unwrap()
        ]
    );
    // The ignored one is reported as such, not as unused.
    let src = seed(&r, "src-1.0.tar.gz")[0];
    assert_eq!(src["rejected_files"].as_array().unwrap().len(), 1);
    // The text says it too, and a note on standard error.
    let o = abovo(&["seeds", "top", "--source", t.path(), "--seed-dir", dir]);
    assert_eq!(code(&o), SUCCESS, "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Not used: 2 files in --seed-dir match no seed"),
        "{out}"
    );
    assert!(out.contains("blob-1.0-x86_64-linux.tgz"), "{out}");
    assert!(
        stderr(&o).contains("2 files in --seed-dir match no seed's name"),
        "{}",
        stderr(&o)
    );
    // The audit lists them as well.
    let o = abovo(&[
        "audit",
        "--source",
        t.path(),
        "--seed-dir",
        dir,
        "--format",
        "json",
    ]);
    let a = json(&o);
    assert_eq!(a["unused_seed_files"].as_array().unwrap().len(), 2);
}

#[test]
fn a_single_file_seed_names_its_member() {
    // One ELF file as the whole seed: its member line names the file, not
    // an empty path.
    let mut elf = vec![0u8; 200];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 1;
    elf[5] = 1;
    elf[16] = 2;
    elf[18] = 3;
    let t = small_tree_with(&elf, "https://example.org/blob-1.0-x86_64-linux.tar.gz");
    let seeds = tempfile::tempdir().unwrap();
    std::fs::write(seeds.path().join("blob-1.0-x86_64-linux.tar.gz"), &elf).unwrap();
    let dir = seeds.path().to_str().unwrap();
    let r = t.seeds_of_top(&["--seed-dir", dir]);
    let blob = seed(&r, "blob-1.0-x86_64-linux.tar.gz")[0];
    assert_eq!(blob["kind"], "binary");
    let member = &blob["content"]["binary_members"][0];
    assert_eq!(member["path"], "blob-1.0-x86_64-linux.tar.gz");
    assert_eq!(member["kind"], "elf-executable");
    let o = abovo(&["seeds", "top", "--source", t.path(), "--seed-dir", dir]);
    let out = stdout(&o);
    assert!(
        out.contains("binary:   blob-1.0-x86_64-linux.tar.gz — ELF 32-bit LSB executable"),
        "{out}"
    );
}
