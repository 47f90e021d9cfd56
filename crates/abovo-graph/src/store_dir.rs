//! Which store directory a source's paths are in, read from the data
//! itself, so that a Nix store (`/nix/store`), a Guix store (`/gnu/store`)
//! or any other prefix is analysed without being told.
//!
//! A snapshot records its store directory in its header
//! ([`crate::snapshot::peek_store_dir`]); a `.drv` file names it in every
//! absolute path it holds, and the first of them (the first output path,
//! or an input when outputs have no path yet) is a store path. A few files
//! are looked at, not all: the answer is needed before the (parallel) load
//! starts, and a source whose files disagree fails that load anyway, with
//! an error naming the file and the path that is not in the store.

use crate::error::LoadError;
use crate::load::{DrvFile, Input, SourceKind, detect_input};
use abovo_store::store_path::{HASH_PART_LEN, StoreDir, StorePath};
use std::io::Read;
use std::path::Path;

/// How many `.drv` files are tried before giving up: a store directory
/// can hold `.drv` files that name no path (an empty or damaged one).
const FILES_TRIED: usize = 16;
/// How many quoted absolute paths of one file are tried.
const PATHS_TRIED: usize = 16;

/// The store directory of the first store path in a `.drv` file's text, if
/// any: `/gnu/store` for `Derive([("out","/gnu/store/…-hello-2.12.2",…`.
/// Only a path whose component after the directory is a valid store base
/// name (`<32 nix-base32 characters>-<name>`) counts.
pub fn from_derivation(bytes: &[u8]) -> Option<StoreDir> {
    let mut rest = bytes;
    for _ in 0..PATHS_TRIED {
        let start = memchr::memmem::find(rest, b"\"/")? + 1;
        let quoted = &rest[start..];
        // Store paths hold no quote and no backslash (escape).
        let end = quoted.iter().position(|&b| b == b'"' || b == b'\\')?;
        if let Some(dir) = std::str::from_utf8(&quoted[..end])
            .ok()
            .and_then(store_dir_of_path)
        {
            return Some(dir);
        }
        rest = &quoted[end..];
    }
    None
}

/// The store directory of an absolute path into a store: the part before
/// the first component that is a store base name (so the builder path
/// `/gnu/store/…-bash/bin/bash` gives `/gnu/store` too).
pub fn store_dir_of_path(path: &str) -> Option<StoreDir> {
    let mut at = 0;
    while let Some(slash) = path[at..].find('/') {
        let cut = at + slash;
        let component = path[cut + 1..].split('/').next().unwrap_or("");
        if component.len() > HASH_PART_LEN
            && component.as_bytes()[HASH_PART_LEN] == b'-'
            && StorePath::from_base_name(component).is_ok()
        {
            return StoreDir::new(&path[..cut]).ok();
        }
        at = cut + 1;
    }
    None
}

/// The store directory of files already read: the first of (up to
/// sixteen of) them that names one.
pub fn from_files(files: &[DrvFile]) -> Option<StoreDir> {
    files
        .iter()
        .take(FILES_TRIED)
        .find_map(|f| from_derivation(&f.bytes))
}

/// The store directory of a source as [`detect`](crate::load::detect) sees it: a snapshot's
/// header, else the paths in (up to sixteen of) its `.drv` files. `None`
/// when the data names none (no `.drv` file, or none with a store path);
/// an error when the source cannot be read at all. A stream is consumed:
/// see [`infer_input`].
pub fn infer(path: &Path) -> Result<Option<StoreDir>, LoadError> {
    infer_input(&Input::open(path)?)
}

/// [`infer`] for a source already opened.
pub fn infer_input(input: &Input) -> Result<Option<StoreDir>, LoadError> {
    let path = input.path();
    match detect_input(input)? {
        SourceKind::Snapshot => crate::snapshot::peek_store_dir(input.reader()?)
            .map(Some)
            .map_err(|source| LoadError::Snapshot {
                path: path.to_owned(),
                source,
            }),
        SourceKind::Directory => {
            let io = |source| LoadError::Io {
                path: path.to_owned(),
                source,
            };
            let dir = crate::drv_files::Dir::open(path)?;
            // The directory is read lazily: the first `.drv` files are all
            // this needs. One that cannot be read, or is not a regular
            // file, says nothing here; the load that follows reports it.
            let drvs = std::fs::read_dir(path).map_err(io)?.filter_map(|entry| {
                let entry = match entry {
                    Ok(entry) => entry,
                    Err(e) => return Some(Err(io(e))),
                };
                let name = entry.file_name().into_string().ok()?;
                let ft = entry.file_type().ok()?;
                if !name.ends_with(".drv") || !(ft.is_file() || ft.is_symlink()) {
                    return None;
                }
                dir.read(&name, ft.is_symlink()).ok().flatten().map(Ok)
            });
            first_named(drvs)
        }
        SourceKind::Tarball => from_tarball(input),
        SourceKind::CorpusFolder { tarball, .. } => from_tarball(&Input::Path(tarball)),
    }
}

/// Reads a tarball up to its first `.drv` members (the start of the stream
/// only: a few kilobytes of a multi-megabyte archive).
fn from_tarball(input: &Input) -> Result<Option<StoreDir>, LoadError> {
    let path = input.path();
    let bad = |reason: String| LoadError::Tarball {
        path: path.to_owned(),
        reason,
    };
    let stream = crate::input::tar_stream(std::io::BufReader::new(input.reader()?))
        .map_err(|e| bad(e.to_string()))?;
    let mut archive = tar::Archive::new(stream);
    let drvs = archive
        .entries()
        .map_err(|e| bad(e.to_string()))?
        .filter_map(|entry| {
            let mut entry = match entry {
                Ok(entry) => entry,
                Err(e) => return Some(Err(bad(e.to_string()))),
            };
            let is_drv =
                entry.header().entry_type().is_file() && entry.path_bytes().ends_with(b".drv");
            if !is_drv {
                return None;
            }
            // A `.drv` is a few kilobytes; the first 64 KiB name its outputs.
            let mut bytes = Vec::new();
            Some(
                (&mut entry)
                    .take(64 * 1024)
                    .read_to_end(&mut bytes)
                    .map(|_| bytes)
                    .map_err(|e| bad(e.to_string())),
            )
        });
    first_named(drvs)
}

/// The store directory named by the first of (up to [`FILES_TRIED`]) `.drv`
/// files that names one, read lazily so that no file past it is read; the
/// first error ends the search.
fn first_named(
    drvs: impl Iterator<Item = Result<Vec<u8>, LoadError>>,
) -> Result<Option<StoreDir>, LoadError> {
    for bytes in drvs.take(FILES_TRIED) {
        if let Some(dir) = from_derivation(&bytes?) {
            return Ok(Some(dir));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HELLO: &str = r#"Derive([("out","/gnu/store/cs56i9digj9qg1bd383cmxc6xrfpdn9n-hello-2.12.2","","")],[],[],"x86_64-linux","/bin/sh",[],[])"#;

    #[test]
    fn the_first_output_path_names_the_store() {
        assert_eq!(
            from_derivation(HELLO.as_bytes()).map(|d| d.to_string()),
            Some("/gnu/store".to_owned())
        );
        let nix = HELLO.replace("/gnu/store", "/nix/store");
        assert_eq!(
            from_derivation(nix.as_bytes()).map(|d| d.to_string()),
            Some("/nix/store".to_owned())
        );
        let deep = HELLO.replace("/gnu/store", "/home/me/.local/share/abovo/store");
        assert_eq!(
            from_derivation(deep.as_bytes()).map(|d| d.to_string()),
            Some("/home/me/.local/share/abovo/store".to_owned())
        );
    }

    #[test]
    fn paths_that_are_not_store_paths_are_skipped() {
        // An output without a path (content-addressed) and an input that is
        // not a store path come before the first store path.
        let text = r#"Derive([("out","","","")],[("/tmp/x.drv",["out"]),("/nix/store/00000000000000000000000000000001-dep.drv",["out"])],[],"x","/bin/sh",[],[])"#;
        assert_eq!(
            from_derivation(text.as_bytes()).map(|d| d.to_string()),
            Some("/nix/store".to_owned())
        );
        assert_eq!(
            store_dir_of_path("/gnu/store/00000000000000000000000000000000-bash/bin/bash")
                .map(|d| d.to_string()),
            Some("/gnu/store".to_owned())
        );
        // A hash part with a letter outside nix-base32 (`e`) is no store path.
        assert_eq!(
            store_dir_of_path("/gnu/store/e0000000000000000000000000000000-bash"),
            None
        );
        assert_eq!(from_derivation(b"Derive([],[],[],\"/bin/sh\")"), None);
        assert_eq!(from_derivation(b""), None);
        assert_eq!(from_derivation(b"\"/"), None);
    }

    #[test]
    fn a_directory_a_tarball_and_a_snapshot_name_their_store() {
        let dir = tempfile::tempdir().unwrap();
        let text = HELLO.replace("/gnu/store", "/nix/store");
        let name = "00000000000000000000000000000001-hello-2.12.2.drv";
        std::fs::write(dir.path().join(name), &text).unwrap();
        std::fs::write(dir.path().join("README"), "/gnu/store").unwrap();
        let got = infer(dir.path()).unwrap().map(|d| d.to_string());
        assert_eq!(got.as_deref(), Some("/nix/store"));

        let tarball = dir.path().join("drvs.tar");
        {
            let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o444);
            h.set_cksum();
            b.append_data(&mut h, name, text.as_bytes()).unwrap();
            b.finish().unwrap();
        }
        let got = infer(&tarball).unwrap().map(|d| d.to_string());
        assert_eq!(got.as_deref(), Some("/nix/store"));

        // A snapshot of a graph in /nix/store, read back from its header.
        let store = StoreDir::new("/nix/store").unwrap();
        let record = crate::build::DrvRecord {
            path: StorePath::from_base_name(name).unwrap(),
            system: "x86_64-linux".into(),
            builder: "/bin/sh".into(),
            outputs: vec![("out".into(), None)],
            fixed: None,
            kind: abovo_store::derivation::DerivationKind::InputAddressed,
            env: vec![],
            inputs: vec![],
            sources: vec![],
        };
        let graph = crate::build::build_graph(store, vec![record]).unwrap();
        let opts = crate::snapshot::WriteOptions {
            level: 1,
            ..Default::default()
        };
        let bytes = crate::snapshot::write(&graph, &opts).unwrap();
        let file = dir.path().join("g.abovo-snapshot");
        std::fs::write(&file, &bytes).unwrap();
        let got = infer(&file).unwrap().map(|d| d.to_string());
        assert_eq!(got.as_deref(), Some("/nix/store"));
        // Cut short, or not a snapshot: an error, not a guess.
        assert!(crate::snapshot::peek_store_dir(&bytes[..60]).is_err());
        assert!(crate::snapshot::peek_store_dir(&b"ABOVOSNX"[..]).is_err());

        let empty = tempfile::tempdir().unwrap();
        assert_eq!(infer(empty.path()).unwrap(), None);
        assert!(infer(&dir.path().join("absent")).is_err());
    }
}
