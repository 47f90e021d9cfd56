//! Hashing a candidate as the seed requires: the flat hash of a single
//! file, or the hash of its NAR serialisation.
//!
//! A regular file from a seed directory is NAR-hashed in both executable
//! modes in one read, because a download does not carry the mode of the
//! store item it stands for.

use super::Rejection;
use abovo_store::file_hash::hash_reader;
use abovo_store::nar::{self, NarHash, NarHashSink, wire};
use abovo_store::{Hash, HashAlgo};
use std::path::Path;

pub(super) fn unreadable(e: impl std::fmt::Display) -> Rejection {
    Rejection::Unreadable {
        error: e.to_string(),
    }
}

pub(super) fn flat_hash(path: &Path, algo: HashAlgo) -> Result<Hash, Rejection> {
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(unreadable(
            "not a regular file, and the seed's hash is that of a single file",
        ));
    }
    let file = std::fs::File::open(path).map_err(unreadable)?;
    hash_reader(std::io::BufReader::with_capacity(1 << 16, file), algo).map_err(unreadable)
}

/// The NAR hash of `path` with `algo`; with `either_mode`, for a regular
/// file, also the NAR hash it would have with its executable bit flipped
/// (both in one read).
pub(super) fn nar_hashes(
    path: &Path,
    algo: HashAlgo,
    either_mode: bool,
) -> Result<(NarHash, Option<NarHash>), Rejection> {
    let meta = std::fs::symlink_metadata(path).map_err(unreadable)?;
    if !(either_mode && meta.is_file()) {
        let n = nar::hash_path_with(path, algo, &mut |_, _| true).map_err(unreadable)?;
        return Ok((n, None));
    }
    use std::io::{Read, Write};
    let executable = is_executable(path);
    let mut sinks = [NarHashSink::with_algo(algo), NarHashSink::with_algo(algo)];
    let size = meta.len();
    for (sink, exec) in sinks.iter_mut().zip([executable, !executable]) {
        let head = |sink: &mut NarHashSink| -> std::io::Result<()> {
            wire::write_str(sink, wire::MAGIC)?;
            if exec {
                wire::write_tokens(
                    sink,
                    &[b"(", b"type", b"regular", b"executable", b"", b"contents"],
                )?;
            } else {
                wire::write_tokens(sink, &[b"(", b"type", b"regular", b"contents"])?;
            }
            sink.write_all(&size.to_le_bytes())
        };
        head(sink).map_err(unreadable)?;
    }
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut read = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(e)),
        };
        read += n as u64;
        for sink in &mut sinks {
            sink.write_all(&buf[..n]).map_err(unreadable)?;
        }
    }
    if read != size {
        return Err(unreadable("the file changed while it was read"));
    }
    let [mut own, mut flipped] = sinks;
    for sink in [&mut own, &mut flipped] {
        wire::write_padding(sink, size).map_err(unreadable)?;
        wire::write_str(sink, b")").map_err(unreadable)?;
    }
    Ok((own.finish(), Some(flipped.finish())))
}

pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o100 != 0)
}

/// The first of the NAR hashes of `path` (as [`nar_hashes`]) equal to
/// `want`, else the file's own.
pub(super) fn nar_match(
    path: &Path,
    algo: HashAlgo,
    either_mode: bool,
    want: impl Fn(&Hash) -> bool,
) -> Result<(bool, NarHash), Rejection> {
    let (own, flipped) = nar_hashes(path, algo, either_mode)?;
    if want(&own.hash) {
        return Ok((true, own));
    }
    match flipped {
        Some(f) if want(&f.hash) => Ok((true, f)),
        _ => Ok((false, own)),
    }
}
