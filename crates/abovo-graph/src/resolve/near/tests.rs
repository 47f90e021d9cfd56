//! The bound passes over no near name: [`Wanted::score`] gives what the
//! rule measured on every name gives, bit for bit, and [`suggest`] what
//! it gave before the bound (kept here as the reference), on random names
//! and on the built-in snapshot's.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::graph::Graph;
use crate::resolve::tests::{built_in, in_place};
use crate::resolve::{scan, suggest};
use crate::snapshot;
use crate::version::split_name_version;
use proptest::prelude::*;
use rustc_hash::FxHashSet;

/// The rule of the [module docs](super), measured on every name.
fn rule(wanted: &str, k: &str) -> Option<f64> {
    let wanted = wanted.to_lowercase();
    let lower = k.to_lowercase();
    let score = if lower == wanted {
        2.0
    } else {
        strsim::jaro_winkler(&wanted, &lower)
    };
    let contains = k.len() > 3 && wanted.len() >= 3 && lower.contains(&wanted);
    (score >= 0.88 || contains).then_some(score)
}

/// `suggest` as it was before the bound: every distinct name gathered in
/// a hash set, every one lowercased and measured.
fn suggest_reference(g: &Graph, name: &str) -> Vec<String> {
    if name.len() > 256 {
        return Vec::new();
    }
    let table = g.packages();
    let mut known: FxHashSet<&str> = (0..table.len()).map(|i| table.name(i)).collect();
    for d in scan::derivations_named(g, "") {
        if let (n, Some(_)) = split_name_version(d.name) {
            known.insert(n);
        }
    }
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .filter_map(|k| Some((rule(name, k)?, k)))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(5)
        .map(|(_, k)| k.to_owned())
        .collect()
}

fn same(wanted: &str, k: &str) -> Result<(), TestCaseError> {
    let got = Wanted::new(wanted).score(k).map(f64::to_bits);
    prop_assert_eq!(
        got,
        rule(wanted, k).map(f64::to_bits),
        "{:?} {:?}",
        wanted,
        k
    );
    Ok(())
}

/// Names of letters of both cases, digits, hyphens and characters whose
/// lowercase is special: longer (`İ`), ASCII (the Kelvin sign), or
/// depending on the position (a final `Σ`).
const NAME: &str = "[a-zA-Z0-9\\-.éÉΣσςİK\u{212A}ßǅ]{0,14}";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn scores_as_measured_on_random_names(a in NAME, b in NAME) {
        same(&a, &b)?;
    }

    /// Near pairs: one name is the other, cut and padded (most random
    /// pairs are far apart, and would only show that far names stay far).
    #[test]
    fn scores_as_measured_on_near_names(
        a in NAME, pre in "[a-zA-Z\\-Σ]{0,3}", post in "[a-zA-Z\\-ς]{0,3}",
        cut in 0usize..3, upper in any::<bool>(),
    ) {
        let kept: String = a.chars().skip(cut).collect();
        let b = format!("{pre}{kept}{post}");
        let b = if upper { b.to_uppercase() } else { b };
        same(&a, &b)?;
        same(&b, &a)?;
    }
}

/// Bytes of a derivation's name: mostly ASCII with versions, sometimes
/// capitals, characters beyond ASCII, or bytes that are not UTF-8.
fn derivation_name() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9\\-.]{0,6}".prop_map(String::into_bytes),
        1 => "[éΣİ\u{212A}ß]".prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..3),
    ];
    prop::collection::vec(piece, 0..5).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// What `suggest` asks of every name's bytes passes over no name the
    /// rule keeps, and splits where `split_name_version` does.
    #[test]
    fn bytes_passed_over_are_not_near(a in NAME, d in derivation_name()) {
        let w = Wanted::new(&a);
        if w.far(&d) {
            let d = std::str::from_utf8(&d);
            prop_assert!(d.is_ok(), "far, but not UTF-8");
            prop_assert_eq!(rule(&a, d.unwrap()), None);
        }
        let split = w.far_before_version(&d);
        prop_assert_eq!(split.map(|s| s.0), crate::version::version_hyphen(&d));
        if let Some((at, true)) = split {
            let name = std::str::from_utf8(&d[..at]);
            prop_assert!(name.is_ok(), "far, but not UTF-8");
            prop_assert_eq!(rule(&a, name.unwrap()), None);
        }
    }
}

/// The longest names [`longest`] allows are those the bound as measured
/// (in floating point, as before the table) lets through, and more.
#[test]
fn the_longest_name_is_that_of_the_bound() {
    for a in 1..=64usize {
        for p in 0..=4usize {
            for m in 0..=a {
                let most = longest(a, p, m);
                for b in m.max(1)..=400usize {
                    let (mf, af, bf) = (m as f64, a as f64, b as f64);
                    let jaro = (mf / af + mf / bf + 1.0) / 3.0;
                    let bound = jaro + 0.1 * p as f64 * (1.0 - jaro);
                    if bound >= NEAR - MARGIN {
                        assert!(b <= most, "a {a} p {p} m {m}: {b} > {most}");
                    } else {
                        // One more than the limit, for rounding.
                        assert!(b > most.saturating_sub(1), "a {a} p {p} m {m}: {b}");
                    }
                }
            }
        }
    }
}

#[test]
fn far_names_are_passed_over_and_near_ones_kept() {
    let helo = Wanted::new("helo");
    let far = |w: &Wanted, k: &str| w.bound(k.len(), k.chars().map(u32::from)) == Bound::Far;
    assert!(far(&helo, "python-requests"));
    assert!(far(&helo, "gcc"));
    assert!(!far(&helo, "hello"));
    assert!(!far(&helo, "helm"));
    assert!(!far(&helo, "r-batchelor"));
    // Every letter, so it might contain `helo`: checked before measured.
    let only = |w: &Wanted, k: &str| w.bound(k.len(), k.chars().map(u32::from));
    assert_eq!(only(&helo, "python-helpers-tool"), Bound::OnlyContaining);
    assert_eq!(helo.score("python-helpers-tool"), None);
    assert!(helo.score("python-helo-tool").is_some());
    assert_eq!(helo.score("Helo"), Some(2.0));
    assert_eq!(Wanted::new("").score(""), Some(2.0));
    assert_eq!(Wanted::new("").score("a"), None);
}

/// Misspellings of the package names of `g` (every 300th): a letter
/// dropped, two swapped, one doubled, capitals, a prefix, a suffix.
fn misspellings(g: &Graph) -> Vec<String> {
    let table = g.packages();
    let mut names = Vec::new();
    for i in (0..table.len()).step_by(300) {
        let n: Vec<char> = table.name(i).chars().collect();
        let s = |c: &[char]| c.iter().collect::<String>();
        let m = n.len() / 2;
        let mut swapped = n.clone();
        if m + 1 < n.len() {
            swapped.swap(m, m + 1);
        }
        names.push(s(&[&n[..m], &n[(m + 1).min(n.len())..]].concat()));
        names.push(s(&swapped));
        names.push(s(&[&n[..m], &n[m..]].concat()) + &s(&n[m..(m + 1).min(n.len())]));
        names.push(s(&n).to_uppercase());
        names.push(s(&n[..m]));
        names.push(format!("py{}", s(&n)));
    }
    names
}

#[test]
fn suggests_what_it_suggested_before_on_the_built_in_snapshot() {
    let g = built_in(|t| t.rows().to_vec());
    let dir = tempfile::tempdir().unwrap();
    let m = snapshot::open(&in_place(&g, &dir)).unwrap();
    let mut names = misspellings(&g);
    names.extend(
        [
            "helo",
            "pytorch",
            "nonexistent-pkg-xyz",
            "",
            "a",
            "gcc",
            "GCC",
            "Hello",
            "python",
            "héllo",
            "ΣΊΣΥΦΟΣ",
            "İcu4c",
            "\u{212A}rita",
            "emacs-magit-ß",
            "日本語",
            "\u{0}\u{1}",
            "x-",
            "-1.0",
            "zzzzzzzzzzzzzzzzzzzz",
        ]
        .map(str::to_owned),
    );
    names.push("libreoffice".repeat(23)); // 253 bytes
    names.push("ab".repeat(128)); // 256: the longest suggested
    names.push("ab".repeat(129));
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..40 {
        let len = (rng % 20) as usize;
        let s: String = (0..len)
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                char::from(b"abcdefghijklmnopqrstuvwxyz-0123456789"[(rng % 37) as usize])
            })
            .collect();
        names.push(s);
    }
    let mut suggested = 0;
    for name in &names {
        let want = suggest_reference(&g, name);
        assert_eq!(suggest(&g, name), want, "{name:?}, decoded");
        assert_eq!(suggest(&m, name), want, "{name:?}, in place");
        suggested += usize::from(!want.is_empty());
    }
    assert!(
        suggested > names.len() / 2,
        "{suggested} of {}",
        names.len()
    );
    // The bound is what makes it fast: it lets few names through.
    let table = g.packages();
    let helo = Wanted::new("helo");
    let all: Vec<&str> = (0..table.len()).map(|i| table.name(i)).collect();
    let measured = all
        .iter()
        .filter(|k| helo.bound(k.len(), k.chars().map(u32::from)) == Bound::Near)
        .count();
    assert!(
        measured * 20 < all.len(),
        "{measured} of {} measured",
        all.len()
    );
}
