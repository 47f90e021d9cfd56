//! abovo's configuration file (docs/config.md): TOML, read by the commands
//! that use it (today `abovo build`, its `[remote]` table).
//!
//! The file is `--config FILE`, else `$ABOVO_CONFIG`, else
//! `$XDG_CONFIG_HOME/abovo/config.toml` (`~/.config/abovo/config.toml`).
//! A missing default file is no configuration; a missing file named by
//! `--config` or `$ABOVO_CONFIG` is an error, and so is a file that does
//! not parse or holds a key abovo does not know (the error names the file,
//! the line and what was expected). Flags override the file.

use anyhow::Context as _;
use std::path::{Path, PathBuf};

/// The configuration.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[remote]`: where `abovo build` runs builders.
    pub remote: Option<Remote>,
}

/// `[remote]`: the defaults of `abovo build --remote`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remote {
    /// `url`: the server (`--remote`).
    pub url: String,
    /// `instance`: its instance name (`--remote-instance`).
    pub instance: Option<String>,
    /// `jobs`: derivations sent at once (`--remote-jobs`).
    pub jobs: Option<std::num::NonZeroU32>,
}

/// The configuration file to read: `explicit` (`--config`), else
/// `$ABOVO_CONFIG`, else the default one if it exists; and whether it must
/// exist.
fn file(explicit: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(p) = explicit {
        return Some((p.to_owned(), true));
    }
    if let Some(p) = std::env::var_os("ABOVO_CONFIG").filter(|p| !p.is_empty()) {
        return Some((PathBuf::from(p), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some((base.join("abovo/config.toml"), false))
}

/// Reads the configuration (see the module's documentation).
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
    let Some((path, required)) = file(explicit) else {
        return Ok(Config::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            return Ok(Config::default());
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("cannot read the configuration file `{}`", path.display())
            });
        }
    };
    parse(&text).with_context(|| format!("bad configuration file `{}`", path.display()))
}

/// Parses the text of a configuration file.
pub fn parse(text: &str) -> anyhow::Result<Config> {
    // toml's message names the line, the column and what was expected.
    Ok(toml::from_str(text)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn remote_table_parses_and_mistakes_name_line_and_expectation() {
        let c = parse("[remote]\nurl = \"grpc://farm:8980\"\ninstance = \"main\"\njobs = 64\n")
            .unwrap();
        let r = c.remote.unwrap();
        assert_eq!(r.url, "grpc://farm:8980");
        assert_eq!(r.instance.as_deref(), Some("main"));
        assert_eq!(r.jobs.map(|j| j.get()), Some(64));
        assert!(parse("").unwrap().remote.is_none());
        let e = format!(
            "{:#}",
            parse("[remote]\nurl = \"grpc://x:1\"\njobz = 3\n").unwrap_err()
        );
        assert!(e.contains("line 3") && e.contains("`jobs`"), "{e}");
        let e = format!(
            "{:#}",
            parse("[remote]\nurl = \"grpc://x:1\"\njobs = \"many\"\n").unwrap_err()
        );
        assert!(e.contains("line 3") && e.contains("invalid type"), "{e}");
        let e = format!(
            "{:#}",
            parse("[remote]\njobs = 0\nurl = \"u\"\n").unwrap_err()
        );
        assert!(e.contains("line 2"), "{e}");
        let e = format!("{:#}", parse("[remote]\ninstance = \"x\"\n").unwrap_err());
        assert!(e.contains("missing field `url`"), "{e}");
        assert!(parse("[remot]\n").is_err());
        assert!(parse("[remote\n").is_err());
    }
}
