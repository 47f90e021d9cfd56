//! Build logs, kept as guix-daemon keeps them: one file per derivation at
//! `<log dir>/drvs/<first two characters>/<rest of the base name>`, with
//! `.gz` (the default, as guix-daemon's), `.bz2` or no extension
//! (`--log-compression=gzip|bzip2|none`). abovo's log directory is
//! `<state>/log`; Guix's is `/var/log/guix`, and [`find_log`] reads either.
//!
//! A log is written to a temporary file and renamed into place when the
//! build ends, so a reader never sees half of one build spliced with
//! another, and each round of a build replaces the previous round's log.
//! Once in place, the same log under the other extensions is deleted, so a
//! stale log written with another compression never shadows the new one.

use bzip2::write::BzEncoder;
use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// How a log is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogCompression {
    /// Plain text, no extension.
    None,
    /// gzip, `.gz` (guix-daemon's default).
    #[default]
    Gzip,
    /// bzip2, `.bz2`.
    Bzip2,
}

impl LogCompression {
    /// Every kind, in the order [`find_log`] prefers them on a tie.
    pub const ALL: [LogCompression; 3] = [
        LogCompression::Bzip2,
        LogCompression::Gzip,
        LogCompression::None,
    ];

    /// The file name extension: `""`, `".gz"` or `".bz2"`.
    pub fn extension(self) -> &'static str {
        match self {
            LogCompression::None => "",
            LogCompression::Gzip => ".gz",
            LogCompression::Bzip2 => ".bz2",
        }
    }
}

/// `<log_dir>/drvs/<2 chars>/<rest>` (without extension) for a derivation's
/// base name (`<hash>-<name>.drv`).
pub fn log_base(log_dir: &Path, drv_base_name: &str) -> PathBuf {
    let split = drv_base_name
        .char_indices()
        .nth(2)
        .map_or(drv_base_name.len(), |(i, _)| i);
    log_dir
        .join("drvs")
        .join(&drv_base_name[..split])
        .join(&drv_base_name[split..])
}

/// The log of a derivation in `log_dir`, whatever its compression: the
/// most recently written when there are several.
pub fn find_log(log_dir: &Path, drv_base_name: &str) -> Option<PathBuf> {
    let base = log_base(log_dir, drv_base_name);
    let mut best: Option<(std::time::SystemTime, PathBuf)> = None;
    for c in LogCompression::ALL {
        let p = with_extension(&base, c);
        if let Ok(m) = std::fs::metadata(&p)
            && m.is_file()
        {
            let t = m.modified().unwrap_or(std::time::UNIX_EPOCH);
            if best.as_ref().is_none_or(|(bt, _)| t > *bt) {
                best = Some((t, p));
            }
        }
    }
    best.map(|(_, p)| p)
}

fn with_extension(base: &Path, c: LogCompression) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(c.extension());
    PathBuf::from(s)
}

enum Sink {
    Plain(File),
    Gzip(GzEncoder<File>),
    Bzip2(BzEncoder<File>),
}

/// A log being written.
pub struct LogWriter {
    base: PathBuf,
    compression: LogCompression,
    tmp: PathBuf,
    sink: Option<Sink>,
    error: Option<io::Error>,
}

impl LogWriter {
    /// Starts the log whose path without extension is `base` (see
    /// [`log_base`]).
    pub fn create(base: &Path, compression: LogCompression) -> io::Result<LogWriter> {
        if let Some(parent) = base.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // Not `<base>.tmp-…`: for a derivation whose name has the most
        // bytes a store name may have, that would pass the 255 bytes of a
        // file name. The hash part (the name's first 30 characters) is
        // enough to tell whose log it is.
        let file_name = base.file_name().unwrap_or_default().as_encoded_bytes();
        let tag = String::from_utf8_lossy(&file_name[..file_name.len().min(30)]).into_owned();
        let tmp = base.with_file_name(format!(
            ".tmp-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = File::create(&tmp)?;
        let sink = match compression {
            LogCompression::None => Sink::Plain(file),
            LogCompression::Gzip => Sink::Gzip(GzEncoder::new(file, flate2::Compression::fast())),
            LogCompression::Bzip2 => Sink::Bzip2(BzEncoder::new(file, bzip2::Compression::fast())),
        };
        Ok(LogWriter {
            base: base.to_owned(),
            compression,
            tmp,
            sink: Some(sink),
            error: None,
        })
    }

    /// Where the log will be once finished.
    pub fn path(&self) -> PathBuf {
        with_extension(&self.base, self.compression)
    }

    /// Appends bytes; a write error is kept and reported by [`finish`](Self::finish).
    pub fn write(&mut self, data: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let r = match &mut self.sink {
            Some(Sink::Plain(f)) => f.write_all(data),
            Some(Sink::Gzip(e)) => e.write_all(data),
            Some(Sink::Bzip2(e)) => e.write_all(data),
            None => Ok(()),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Completes the file, moves it into place and deletes the same log
    /// under the other extensions; returns its path.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let file = match self.sink.take() {
            Some(Sink::Plain(f)) => f,
            Some(Sink::Gzip(e)) => e.finish()?,
            Some(Sink::Bzip2(e)) => e.finish()?,
            None => return Ok(self.path()),
        };
        file.sync_data().ok();
        let path = self.path();
        std::fs::rename(&self.tmp, &path)?;
        for c in LogCompression::ALL {
            if c != self.compression {
                let _ = std::fs::remove_file(with_extension(&self.base, c));
            }
        }
        Ok(path)
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if self.sink.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reads a whole log back, decompressing it by its content (gzip and bzip2
/// are recognised by their magic bytes, anything else is plain text), so a
/// misnamed file still reads.
pub fn read_log(path: &Path) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    File::open(path)?.read_to_end(&mut raw)?;
    let mut out = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)?;
    } else if raw.starts_with(b"BZh") {
        bzip2::read::MultiBzDecoder::new(&raw[..]).read_to_end(&mut out)?;
    } else {
        out = raw;
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    const DRV: &str = "0abcdefghijklmnpqrsvwxyz01234567-hello-2.12.drv";

    #[test]
    fn every_compression_writes_and_reads_back() {
        let d = tempfile::tempdir().unwrap();
        let base = log_base(d.path(), DRV);
        assert_eq!(
            base,
            d.path()
                .join("drvs/0a/bcdefghijklmnpqrsvwxyz01234567-hello-2.12.drv")
        );
        for c in LogCompression::ALL {
            let mut w = LogWriter::create(&base, c).unwrap();
            w.write(b"hello ");
            w.write(b"world\n");
            let p = w.path();
            assert!(!p.exists(), "not visible before it is finished");
            assert_eq!(w.finish().unwrap(), p);
            assert_eq!(
                p.to_str().unwrap(),
                format!("{}{}", base.display(), c.extension())
            );
            assert_eq!(read_log(&p).unwrap(), b"hello world\n");
            // The others are gone: exactly one log remains.
            assert_eq!(find_log(d.path(), DRV), Some(p.clone()));
            for other in LogCompression::ALL {
                assert_eq!(
                    with_extension(&base, other).exists(),
                    other == c,
                    "{other:?} after writing {c:?}"
                );
            }
        }
        let raw = std::fs::read(with_extension(&base, LogCompression::None)).unwrap();
        assert_eq!(raw, b"hello world\n", "none is plain text");
    }

    #[test]
    fn the_newest_of_several_logs_is_found() {
        // Guix leaves older logs with another compression in place.
        let d = tempfile::tempdir().unwrap();
        let base = log_base(d.path(), DRV);
        std::fs::create_dir_all(base.parent().unwrap()).unwrap();
        let old = with_extension(&base, LogCompression::None);
        std::fs::write(&old, "old\n").unwrap();
        let new = with_extension(&base, LogCompression::Bzip2);
        let mut e = BzEncoder::new(File::create(&new).unwrap(), bzip2::Compression::best());
        e.write_all(b"new\n").unwrap();
        e.finish().unwrap();
        let t = std::time::SystemTime::now();
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(t - std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(find_log(d.path(), DRV), Some(new.clone()));
        assert_eq!(read_log(&new).unwrap(), b"new\n");
        assert_eq!(find_log(d.path(), "zzzz-missing.drv"), None);
    }
}
