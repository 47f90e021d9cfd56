//! The compressions the server writes NARs in, on the fly, as `guix
//! publish` does without `--cache`: `none`, `gzip`, `xz` and `zstd`, each
//! at a level (`METHOD[:LEVEL]`, as `guix publish -C` takes it).

use std::io::{self, Write};

/// A compression method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Compression {
    /// The NAR as is.
    None,
    /// gzip (flate2).
    Gzip,
    /// xz (liblzma).
    Xz,
    /// zstd.
    Zstd,
}

impl Compression {
    /// Its name in narinfos and URLs.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The method of a name.
    pub fn from_name(name: &str) -> Option<Compression> {
        Some(match name {
            "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "xz" => Compression::Xz,
            "zstd" => Compression::Zstd,
            _ => return None,
        })
    }

    /// The default level: `guix publish`'s for gzip (3), a level that
    /// keeps up with a disk for the others.
    pub fn default_level(self) -> u32 {
        match self {
            Compression::None => 0,
            Compression::Gzip | Compression::Xz | Compression::Zstd => 3,
        }
    }

    /// The largest level.
    pub fn max_level(self) -> u32 {
        match self {
            Compression::None => 0,
            Compression::Gzip | Compression::Xz => 9,
            Compression::Zstd => 19,
        }
    }
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
        let compression = Compression::from_name(name).ok_or_else(|| {
            format!("unknown compression `{name}` (expected none, gzip, xz or zstd)")
        })?;
        let level = match level {
            None => compression.default_level(),
            Some(l) => {
                let n: u32 = l
                    .parse()
                    .map_err(|_| format!("the level `{l}` is not a number"))?;
                if n > compression.max_level() {
                    return Err(format!(
                        "{} levels go up to {}, not {n}",
                        compression.name(),
                        compression.max_level()
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
    }

    #[test]
    fn every_method_round_trips() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Xz,
            Compression::Zstd,
        ] {
            let mut e = Method {
                compression: c,
                level: 1,
            }
            .encoder(Vec::new())
            .unwrap();
            e.write_all(&data).unwrap();
            let packed = e.finish().unwrap();
            let mut back = Vec::new();
            use std::io::Read;
            match c {
                Compression::None => back = packed.clone(),
                Compression::Gzip => {
                    flate2::read::GzDecoder::new(&packed[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Compression::Xz => {
                    xz2::read::XzDecoder::new(&packed[..])
                        .read_to_end(&mut back)
                        .unwrap();
                }
                Compression::Zstd => back = zstd::decode_all(&packed[..]).unwrap(),
            }
            assert_eq!(back, data, "{}", c.name());
        }
    }
}
