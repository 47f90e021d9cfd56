//! The compressions the server writes NARs in, on the fly, as `guix
//! publish` does without `--cache`: `none`, `gzip`, `xz` and `zstd`, each
//! at a level (`METHOD[:LEVEL]`, as `guix publish -C` takes it).
//!
//! The names are those of [`abovo_fetch::compression`], which reads every
//! compression a client meets; this module adds the subset the server
//! writes and their levels.

use std::io::{self, Write};

pub use abovo_fetch::compression::Compression;

/// The compressions the server writes, each with its default level
/// (`guix publish`'s for gzip, 3; a level that keeps up with a disk for the
/// others) and its largest.
const WRITTEN: [(Compression, u32, u32); 4] = [
    (Compression::None, 0, 0),
    (Compression::Gzip, 3, 9),
    (Compression::Xz, 3, 9),
    (Compression::Zstd, 3, 19),
];

/// Whether the server writes NARs in `compression`.
pub fn writes(compression: Compression) -> bool {
    levels(compression).is_some()
}

/// The default and largest levels of a compression the server writes.
fn levels(compression: Compression) -> Option<(u32, u32)> {
    WRITTEN
        .iter()
        .find(|(c, _, _)| *c == compression)
        .map(|&(_, default, max)| (default, max))
}

/// A method and its level, as `--compression` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// The method.
    pub compression: Compression,
    /// Its level.
    pub level: u32,
}

impl Method {
    /// Parses `METHOD[:LEVEL]`.
    pub fn parse(text: &str) -> Result<Method, String> {
        let (name, level) = match text.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (text, None),
        };
        // A narinfo's empty `Compression:` means none; a flag must name it.
        let (compression, (default, max)) = Compression::from_name(name)
            .filter(|_| !name.is_empty())
            .and_then(|c| Some((c, levels(c)?)))
            .ok_or_else(|| {
                format!("unknown compression `{name}` (expected none, gzip, xz or zstd)")
            })?;
        let level = match level {
            None => default,
            Some(l) => {
                let n: u32 = l
                    .parse()
                    .map_err(|_| format!("the level `{l}` is not a number"))?;
                if n > max {
                    return Err(format!(
                        "{} levels go up to {max}, not {n}",
                        compression.name()
                    ));
                }
                n
            }
        };
        Ok(Method { compression, level })
    }

    /// A writer that compresses into `out`; [`Encoder::finish`] writes the
    /// end of the stream.
    pub fn encoder<W: Write>(self, out: W) -> io::Result<Encoder<W>> {
        Ok(match self.compression {
            Compression::None => Encoder::None(out),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(self.level),
            )),
            Compression::Xz => Encoder::Xz(xz2::write::XzEncoder::new(out, self.level)),
            Compression::Zstd => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(out, self.level as i32)?)
            }
            other @ (Compression::Lzip | Compression::Bzip2) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the server does not write {} NARs", other.name()),
                ));
            }
        })
    }
}

/// A compressing writer.
pub enum Encoder<W: Write> {
    /// Passes the bytes through.
    None(W),
    /// gzip.
    Gzip(flate2::write::GzEncoder<W>),
    /// xz.
    Xz(xz2::write::XzEncoder<W>),
    /// zstd.
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Ends the compressed stream and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::None(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn methods_parse_with_levels_and_limits() {
        assert_eq!(
            Method::parse("zstd:19").unwrap(),
            Method {
                compression: Compression::Zstd,
                level: 19
            }
        );
        assert_eq!(Method::parse("gzip").unwrap().level, 3);
        assert!(Method::parse("lzip").unwrap_err().contains("unknown"));
        assert!(Method::parse("xz:10").unwrap_err().contains("up to 9"));
        assert!(Method::parse("xz:x").unwrap_err().contains("not a number"));
        assert!(Method::parse("").unwrap_err().contains("unknown"));
        let lzip = Method {
            compression: Compression::Lzip,
            level: 0,
        };
        assert!(lzip.encoder(Vec::new()).is_err());
        assert!(writes(Compression::Xz) && !writes(Compression::Bzip2));
    }

    #[test]
    fn every_method_round_trips() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for (c, _, _) in WRITTEN {
            let mut e = Method {
                compression: c,
                level: 1,
            }
            .encoder(Vec::new())
            .unwrap();
            e.write_all(&data).unwrap();
            let packed = e.finish().unwrap();
            // Read back as clients read it.
            let mut back = Vec::new();
            use std::io::Read;
            c.decoder(&packed[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{}", c.name());
        }
    }
}
