//! The builder's environment, exactly as guix-daemon builds it
//! (`startBuilder` in `nix/libstore/build.cc`, docs/build.md, "What the builder sees").
//!
//! Nothing is inherited from abovo's own environment, except, for a
//! fixed-output derivation only, the variables its `impureEnvVars` names.
//! The variables are passed sorted by name, as the daemon's `std::map`
//! does:
//!
//! 1. `PATH=/path-not-set`, `HOME=/homeless-shelter`, `NIX_STORE=<store>`,
//!    `NIX_BUILD_CORES=<cores>` (`0` means "all", the daemon's default);
//! 2. every variable of the derivation, which may override those four;
//! 3. `NIX_BUILD_TOP`, `TMPDIR`, `TEMPDIR`, `TMP`, `TEMP` and `PWD`, all
//!    `/tmp/guix-build-<name>.drv-0`, which the derivation cannot override;
//! 4. for a fixed-output derivation, each `impureEnvVars` name with abovo's
//!    value (empty when unset).

use abovo_store::derivation::Derivation;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The environment of a build, name → value.
pub type Env = BTreeMap<Vec<u8>, Vec<u8>>;

/// The builder environment of `drv`.
pub fn builder_env(
    drv: &Derivation,
    store_dir: &str,
    sandbox_build_dir: &Path,
    cores: Option<u32>,
    host: &dyn Fn(&str) -> Option<Vec<u8>>,
) -> Env {
    let mut env = Env::new();
    let mut set = |k: &str, v: &[u8]| {
        env.insert(k.as_bytes().to_vec(), v.to_vec());
    };
    set("PATH", b"/path-not-set");
    set("HOME", b"/homeless-shelter");
    set("NIX_STORE", store_dir.as_bytes());
    set("NIX_BUILD_CORES", cores.unwrap_or(0).to_string().as_bytes());
    for (k, v) in &drv.environment {
        env.insert(k.clone(), v.clone());
    }
    let top = sandbox_build_dir.as_os_str().as_bytes();
    for k in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"] {
        env.insert(k.as_bytes().to_vec(), top.to_vec());
    }
    if drv.is_fixed_output() {
        let names = drv
            .env_str("impureEnvVars")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        for name in names {
            let value = host(&name).unwrap_or_default();
            env.insert(name.into_bytes(), value);
        }
    }
    env
}

/// abovo's own value of a variable, for `impureEnvVars`.
pub fn host_var(name: &str) -> Option<Vec<u8>> {
    std::env::var_os(name).map(|v| v.as_bytes().to_vec())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use abovo_store::StoreDir;

    const DRV: &str = r#"Derive([("out","/gnu/store/ziq3rjcjqjrfq7b6z784pzgn0pc5iyyq-x.tar.xz","sha256","ccad8ee5dadb1271fd4727ad14d9bd77a64e505608766c4e98267d9aede40d3d")],[],[],"x86_64-linux","/gnu/store/ziq3rjcjqjrfq7b6z784pzgn0pc5iyyq-sh",[],[("HOME","/elsewhere"),("TMPDIR","/mine"),("impureEnvVars","http_proxy LANG"),("out","/gnu/store/ziq3rjcjqjrfq7b6z784pzgn0pc5iyyq-x.tar.xz")])"#;

    #[test]
    fn guix_rules_for_overrides_and_impure_variables() {
        let drv = Derivation::parse(&StoreDir::default(), DRV.as_bytes()).unwrap();
        let host = |n: &str| (n == "http_proxy").then(|| b"http://proxy:3128".to_vec());
        let env = builder_env(
            &drv,
            "/gnu/store",
            Path::new("/tmp/guix-build-x.tar.xz.drv-0"),
            None,
            &host,
        );
        let get = |k: &str| String::from_utf8(env[k.as_bytes()].clone()).unwrap();
        assert_eq!(get("PATH"), "/path-not-set");
        assert_eq!(
            get("HOME"),
            "/elsewhere",
            "the derivation may override HOME"
        );
        assert_eq!(
            get("TMPDIR"),
            "/tmp/guix-build-x.tar.xz.drv-0",
            "but not TMPDIR"
        );
        assert_eq!(get("PWD"), "/tmp/guix-build-x.tar.xz.drv-0");
        assert_eq!(get("NIX_BUILD_CORES"), "0");
        assert_eq!(get("NIX_STORE"), "/gnu/store");
        assert_eq!(get("http_proxy"), "http://proxy:3128");
        assert_eq!(get("LANG"), "", "an unset impure variable is passed empty");
        assert!(!env.contains_key(b"NIX_OUTPUT_CHECKED".as_slice()));
        let keys: Vec<&Vec<u8>> = env.keys().collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted by name");
    }
}
