//! The compressions of NARs on substitute servers, as a narinfo's
//! `Compression:` names them: `none`, `gzip`, `xz`, `zstd`, `lzip`
//! (`guix publish -C`), and `bzip2` (older Nix caches).
//!
//! Every decoder streams and bounds its memory: a hostile server can
//! choose the compression and its header, not how much abovo allocates.

pub mod lzip;

use std::io::{self, BufRead, Read};

/// The most memory an xz or lzip decoder may use (a dictionary of up to
/// this size); real NARs use at most 64 MiB.
pub const MEMLIMIT: u64 = 256 << 20;

/// A NAR compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Compression {
    /// zstd: the fastest to decode, preferred when offered.
    Zstd,
    /// lzip.
    Lzip,
    /// xz.
    Xz,
    /// gzip.
    Gzip,
    /// bzip2.
    Bzip2,
    /// Stored as it is.
    None,
}

impl Compression {
    /// Every compression, in order of preference (fastest decoding first;
    /// all are verified the same way).
    pub const ALL: [Compression; 6] = [
        Compression::Zstd,
        Compression::Lzip,
        Compression::Xz,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::None,
    ];

    /// The compression a narinfo names (`none` also when empty).
    pub fn from_name(name: &str) -> Option<Compression> {
        Some(match name {
            "" | "none" => Compression::None,
            "gzip" => Compression::Gzip,
            "xz" => Compression::Xz,
            "zstd" => Compression::Zstd,
            "lzip" => Compression::Lzip,
            "bzip2" => Compression::Bzip2,
            _ => return None,
        })
    }

    /// Its name in a narinfo.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Lzip => "lzip",
            Compression::Bzip2 => "bzip2",
        }
    }

    /// A reader of the decompressed stream of `input`.
    pub fn decoder<'a, R: BufRead + 'a>(self, input: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Compression::Xz => {
                let stream =
                    xz2::stream::Stream::new_stream_decoder(MEMLIMIT, xz2::stream::CONCATENATED)
                        .map_err(io::Error::other)?;
                Box::new(xz2::bufread::XzDecoder::new_stream(input, stream))
            }
            Compression::Zstd => {
                let mut d = zstd::stream::read::Decoder::with_buffer(input)?;
                // A window over 256 MiB is refused rather than allocated.
                d.window_log_max(28)?;
                Box::new(d)
            }
            Compression::Lzip => Box::new(lzip::LzipReader::new(input, MEMLIMIT)),
            Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn every_compression_round_trips_and_names_parse() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let compressed = |c: Compression| -> Vec<u8> {
            match c {
                Compression::None => data.clone(),
                Compression::Gzip => {
                    let mut e =
                        flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                    e.write_all(&data).unwrap();
                    e.finish().unwrap()
                }
                Compression::Xz => {
                    let mut e = xz2::write::XzEncoder::new(Vec::new(), 1);
                    e.write_all(&data).unwrap();
                    e.finish().unwrap()
                }
                Compression::Zstd => zstd::encode_all(&data[..], 3).unwrap(),
                Compression::Bzip2 => {
                    let mut e =
                        bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
                    e.write_all(&data).unwrap();
                    e.finish().unwrap()
                }
                Compression::Lzip => lzip::tests::lzip(&data),
            }
        };
        for c in Compression::ALL {
            assert_eq!(Compression::from_name(c.name()), Some(c));
            let bytes = compressed(c);
            let mut out = Vec::new();
            c.decoder(&bytes[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{}", c.name());
            if c != Compression::None {
                // A truncated stream is an error, never a short success.
                let cut = &bytes[..bytes.len() / 2];
                let mut out = Vec::new();
                let r = c.decoder(cut).and_then(|mut d| d.read_to_end(&mut out));
                assert!(r.is_err(), "{}: truncated stream accepted", c.name());
            }
        }
        assert_eq!(Compression::from_name("brotli"), None);
    }
}
