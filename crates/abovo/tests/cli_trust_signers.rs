//! Who signed each seed's bytes (`seeds --signers`, `audit --signers`, and
//! offline after `abovo fetch`), against two real `abovo publish` servers
//! on 127.0.0.1 over stores holding hello's real seed bytes
//! (`ABOVO_SEED_BYTES`): one signing with an authorised key, one with a key
//! that is not authorised.
#![allow(clippy::unwrap_used)] // tests: a panic is the failure report

mod cli_build_support;
mod cli_fetch_support;
mod cli_publish_support;
mod cli_support;
mod cli_trust_support;

use cli_build_support::TestStore;
use cli_fetch_support::{SeedItem, hello_seed_items};
use cli_publish_support::Publish;
use cli_support::{NEGATIVE, SUCCESS, abovo, stderr, stdout};
use cli_trust_support::{seed, source_args};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A store naming `/gnu/store` holding `items` (added as Guix adds them,
/// so their paths are the seeds'), with a key named `name`; its server,
/// and the key as `guix:<hex>`.
fn publish(items: &[&SeedItem], name: &str) -> (TestStore, Publish, String) {
    let t = TestStore::guix();
    for item in items {
        let f = t.dir.path().join(item.name());
        std::fs::write(&f, &item.bytes).unwrap();
        let mode = if item.recursive { 0o755 } else { 0o644 };
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        let mut args = vec!["add", "--name", item.name(), f.to_str().unwrap()];
        if item.recursive {
            args.insert(1, "--recursive");
        }
        assert_eq!(t.ok(&args).trim(), item.store_path(), "{}", item.base);
    }
    let key: Value =
        serde_json::from_str(&t.ok(&["key", "generate", "--name", name, "-f", "json"])).unwrap();
    let server = Publish::start(t.cmd(&["publish", "--listen", "127.0.0.1:0"]));
    let key = format!("guix:{}", key["public_key"].as_str().unwrap());
    (t, server, key)
}

/// `abovo ARGS` on the Guix graph with `cache` and no Debian.
fn run(cache: &Path, args: &[&str]) -> std::process::Output {
    let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    all.extend(["--cache-dir".into(), cache.to_str().unwrap().into()]);
    all.extend(source_args());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    abovo(&refs)
}

fn report(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(o), stderr(o)))
}

/// A seed's signatures as (server, verdict, key) triples, sorted.
fn sigs(r: &Value, name: &str) -> Vec<(String, String, String)> {
    let s = seed(r, name);
    assert_eq!(s.len(), 1, "{name}");
    let mut v: Vec<_> = s[0]["signatures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["server"].as_str().unwrap().to_owned(),
                        x["verdict"].as_str().unwrap().to_owned(),
                        x["key"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn seeds_name_exactly_the_authorised_signers_live_and_after_fetch() {
    let Some(items) = hello_seed_items() else {
        return;
    };
    let by = |n: &str| items.iter().find(|i| i.name() == n).unwrap();
    let (bash, mkdir, stage0, mes) = (
        by("bash"),
        by("mkdir"),
        by("stage0-posix-1.6.0.tar.gz"),
        by("mes-0.25.1.tar.gz"),
    );
    // A: bash, mkdir (recursive) and stage0-posix (flat), authorised.
    // B: bash and stage0-posix, signed with a key nobody authorised.
    let (ta, a, key_a) = publish(&[bash, mkdir, stage0], "builder-a-1");
    let (_tb, b, key_b) = publish(&[bash, stage0], "builder-b-1");
    assert_ne!(key_a, key_b);
    let acl = ta.state().join("signing-key.pub");
    let acl = acl.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty-cache");
    let urls = format!("{} {}", a.url, b.url);
    let live = |cache: &Path, more: &[&str]| {
        let mut args = vec![
            "seeds",
            "hello",
            "--signers",
            "--substitute-urls",
            &urls,
            "--authorized-key",
            acl,
        ];
        args.extend_from_slice(more);
        if !more.contains(&"--format") {
            args.extend(["--format", "json"]);
        }
        run(cache, &args)
    };

    let o = live(&empty, &[]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", stderr(&o));
    let r = report(&o);
    let signed = |u: &str, k: &str| (u.to_owned(), "signed".to_owned(), k.to_owned());
    let row = |u: &str, v: &str| (u.to_owned(), v.to_owned(), String::new());
    // bash: A signed it; B's signature is by a key not authorised.
    let s = sigs(&r, "bash");
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s.contains(&signed(&a.url, &key_a)), "{s:?}");
    let untrusted = s.iter().find(|x| x.0 == b.url).unwrap();
    assert_eq!(untrusted.1, "untrusted");
    assert!(!untrusted.2.is_empty(), "the unauthorised key is named");
    let sorted = |mut v: Vec<(String, String, String)>| {
        v.sort();
        v
    };
    assert_eq!(
        sigs(&r, "mkdir"),
        sorted(vec![signed(&a.url, &key_a), row(&b.url, "missing")])
    );
    // A flat seed with no bytes at hand: A's signature names a NAR hash
    // nothing here can check.
    let s = sigs(&r, "stage0-posix-1.6.0.tar.gz");
    assert!(
        s.contains(&(a.url.clone(), "unverified".into(), key_a.clone())),
        "{s:?}"
    );
    // Not served anywhere.
    assert_eq!(
        sigs(&r, mes.name()),
        sorted(vec![row(&a.url, "missing"), row(&b.url, "missing")])
    );

    // With the bytes at hand, the flat seed's signature is checked: signed.
    let seed_dir = std::env::var("ABOVO_SEED_BYTES").unwrap();
    let r = report(&live(&empty, &["--seed-dir", &seed_dir]));
    assert!(sigs(&r, "stage0-posix-1.6.0.tar.gz").contains(&signed(&a.url, &key_a)));

    // Without the key, nobody signed anything; the text says so.
    let o = run(
        &empty,
        &["seeds", "hello", "--signers", "--substitute-urls", &urls],
    );
    let t = stdout(&o);
    assert!(!t.contains(&key_a), "{t}");
    assert!(t.contains("signed:   nobody — also 2 untrusted"), "{t}");
    // The text with the key: the signer and its server, and the totals.
    let o = live(&empty, &["--format", "text", "--require-signers", "1"]);
    assert_eq!(o.status.code(), Some(NEGATIVE), "most seeds have no signer");
    assert!(stderr(&o).contains("--require-signers 1"), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains(&format!("signed:   {key_a} ({})", a.url)), "{t}");
    assert!(t.contains("≥ 1 signer"), "{t}");
    // The HTML report says the same: per seed the signed-by line and every
    // server's answer with its verdict and key, and the totals.
    let o = live(&empty, &["--format", "html"]);
    assert_eq!(o.status.code(), Some(SUCCESS), "{}", stderr(&o));
    let h = stdout(&o);
    assert!(
        h.contains(&format!("signed by: {key_a} ({})", a.url)),
        "{h}"
    );
    assert!(h.contains("signed by: nobody — also 2 missing"), "mes: {h}");
    for verdict in ["signed", "untrusted", "unverified", "missing"] {
        assert!(h.contains(&format!("<td>{verdict}</td>")), "{verdict}: {h}");
    }
    // B's key, which nobody authorised, is named as the JSON names it.
    let b_key = sigs(&r, "bash")
        .into_iter()
        .find(|x| x.0 == b.url)
        .unwrap()
        .2;
    let b_key = b_key
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    assert!(h.contains(&b_key), "B's unauthorised key is named: {h}");
    assert!(
        h.contains("Signatures (independent authorised signers"),
        "{h}"
    );
    assert!(h.contains("≥ 2 signers"), "{h}");

    // abovo fetch from A keeps the narinfos; then, with no server running,
    // seeds names A's key from the cache.
    let cache = tmp.path().join("cache");
    let o = run(
        &cache,
        &[
            "fetch",
            "hello",
            "--no-urls",
            "--no-debian",
            "--substitute-urls",
            &a.url,
            "--authorized-key",
            acl,
            "--format",
            "json",
        ],
    );
    assert!(stdout(&o).contains("\"fetched\""), "{}", stderr(&o));
    drop((a, b));
    let offline = |more: &[&str]| {
        let mut args = vec!["seeds", "hello", "--format", "json"];
        args.extend_from_slice(more);
        report(&run(&cache, &args))
    };
    let r = offline(&["--authorized-key", acl]);
    for name in ["bash", "mkdir", "stage0-posix-1.6.0.tar.gz"] {
        let s = &seed(&r, name)[0]["signatures"];
        assert_eq!(s.as_array().unwrap().len(), 1, "{name}: {s}");
        assert_eq!(s[0]["verdict"], "signed", "{name}: {s}");
        assert_eq!(s[0]["key"], key_a.as_str(), "{name}");
        assert_eq!(s[0]["seen"], "fetch", "{name}");
    }
    assert!(seed(&r, "mes-0.25.1.tar.gz")[0].get("signatures").is_none());
    // Judged against this run's keys: without A's key, untrusted.
    let r = offline(&[]);
    assert_eq!(seed(&r, "bash")[0]["signatures"][0]["verdict"], "untrusted");
    // audit counts the binary seeds with signers, offline too.
    let o = run(
        &cache,
        &["audit", "--only", "hello", "--authorized-key", acl],
    );
    let t = stdout(&o);
    assert!(t.contains(&format!("signed by: {key_a}")), "{t}");
    assert!(
        t.contains("Signatures (independent authorised signers"),
        "{t}"
    );
    let o = run(
        &cache,
        &[
            "audit",
            "--only",
            "hello",
            "--authorized-key",
            acl,
            "--format",
            "html",
        ],
    );
    let h = stdout(&o);
    assert!(h.contains(&format!("signed by: {key_a}")), "{h}");
    assert!(h.contains("<td>signed</td>"), "{h}");
    assert!(
        h.contains("Signatures (independent authorised signers"),
        "{h}"
    );
}
