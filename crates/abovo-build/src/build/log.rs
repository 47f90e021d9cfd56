//! Build logs: one gzip file per derivation, where Guix keeps them
//! (`<state>/log/drvs/<first two characters>/<rest>.gz`).
//!
//! A log is written to a temporary file and renamed into place when the
//! build ends, so `abovo log` never shows half of one build spliced with
//! another, and each round of a build replaces the previous round's log.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// A log being written.
pub struct LogWriter {
    path: PathBuf,
    tmp: PathBuf,
    encoder: Option<GzEncoder<File>>,
    error: Option<io::Error>,
}

impl LogWriter {
    /// Starts the log that will be at `path`.
    pub fn create(path: &Path) -> io::Result<LogWriter> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(
            ".tmp-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp)?;
        Ok(LogWriter {
            path: path.to_owned(),
            tmp,
            encoder: Some(GzEncoder::new(file, Compression::fast())),
            error: None,
        })
    }

    /// Appends bytes; a write error is kept and reported by [`finish`](Self::finish).
    pub fn write(&mut self, data: &[u8]) {
        if let (Some(enc), None) = (&mut self.encoder, &self.error)
            && let Err(e) = enc.write_all(data)
        {
            self.error = Some(e);
        }
    }

    /// Completes the file and moves it into place.
    pub fn finish(mut self) -> io::Result<PathBuf> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if let Some(enc) = self.encoder.take() {
            enc.finish()?.sync_data().ok();
        }
        std::fs::rename(&self.tmp, &self.path)?;
        Ok(self.path.clone())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        if self.encoder.is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reads a whole log back, decompressing it.
pub fn read_log(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(File::open(path)?).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn write_then_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log/drvs/ab/cdef.gz");
        let mut w = LogWriter::create(&p).unwrap();
        w.write(b"hello ");
        w.write(b"world\n");
        assert!(!p.exists(), "not visible before it is finished");
        w.finish().unwrap();
        assert_eq!(read_log(&p).unwrap(), b"hello world\n");
    }
}
