//! Reading lzip (`.lz`) streams.
//!
//! An lzip member is a 6-byte header (`LZIP`, version 1, a coded dictionary
//! size), raw LZMA data with the fixed properties lc=3 lp=0 pb=2 ending in an
//! end-of-stream marker, and a 20-byte trailer (CRC32 of the data, data size,
//! member size). liblzma (through `xz2`) has no lzip decoder in the version
//! the workspace uses, but it has the legacy `.lzma` decoder, whose 13-byte
//! header is exactly those properties, a dictionary size and "size unknown".
//! So each member is decoded by putting such a header in front of its LZMA
//! data; the trailer is then checked (CRC32 and size) by this reader.
//! Several members in a row are read one after the other, as lzip does.
//! Bytes after the last member that are not another member are ignored, as
//! `lzip -d` ignores them by default.

use std::io::{self, BufRead, Read};
use xz2::stream::{Action, Status, Stream};

/// One member's LZMA data being decoded: the synthesised `.lzma` header is
/// fed to the decoder first, then the member's bytes from `inner`.
struct Body<R> {
    stream: Stream,
    header: [u8; 13],
    header_fed: usize,
    inner: R,
    ended: bool,
}

impl<R: BufRead> Body<R> {
    /// Decodes into `buf`; `Ok(0)` once the end marker has been passed.
    /// liblzma reports the end of the data itself, so the trailer that
    /// follows is left unread in `inner`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        loop {
            let from_header = self.header_fed < self.header.len();
            let input: &[u8] = if from_header {
                &self.header[self.header_fed..]
            } else {
                self.inner.fill_buf()?
            };
            let eof = input.is_empty();
            let (before_in, before_out) = (self.stream.total_in(), self.stream.total_out());
            let action = if eof { Action::Finish } else { Action::Run };
            let status = self
                .stream
                .process(input, buf, action)
                .map_err(|e| invalid(format!("corrupt lzip data: {e}")))?;
            let consumed = (self.stream.total_in() - before_in) as usize;
            let produced = (self.stream.total_out() - before_out) as usize;
            if from_header {
                self.header_fed += consumed;
            } else {
                self.inner.consume(consumed);
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if eof {
                return Err(invalid(
                    "lzip member is truncated (data ends before its end marker)".into(),
                ));
            }
            if consumed == 0 {
                return Err(invalid(
                    "corrupt lzip data: the decoder made no progress".into(),
                ));
            }
        }
    }
}

enum State<R> {
    /// At the start of a member (its header not read yet).
    Header(R),
    /// Inside a member's LZMA data.
    Body(Box<Body<R>>),
    /// After the last member.
    Done,
    /// After an error.
    Failed,
}

/// A reader that decodes lzip members from a buffered reader.
pub struct LzipReader<R> {
    state: State<R>,
    memlimit: u64,
    crc: flate2::Crc,
    data_size: u64,
    members: u64,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Decodes lzip's one-byte dictionary size: bits 0-4 give a power of two
/// (2^12 to 2^29), bits 5-7 how many sixteenths of it to subtract.
pub fn dictionary_size(coded: u8) -> Option<u32> {
    let exp = u32::from(coded & 0x1f);
    if !(12..=29).contains(&exp) {
        return None;
    }
    let base = 1u32 << exp;
    Some(base - (base / 16) * u32::from(coded >> 5))
}

impl<R: BufRead> LzipReader<R> {
    /// Reads lzip members from `inner`; `memlimit` bounds the decoder's
    /// memory (a hostile header can ask for a 512 MiB dictionary).
    pub fn new(inner: R, memlimit: u64) -> LzipReader<R> {
        LzipReader {
            state: State::Header(inner),
            memlimit,
            crc: flate2::Crc::new(),
            data_size: 0,
            members: 0,
        }
    }

    fn start_member(&mut self, mut inner: R) -> io::Result<Option<Box<Body<R>>>> {
        let mut header = [0u8; 6];
        let got = read_full(&mut inner, &mut header)?;
        if got == 0 && self.members > 0 {
            return Ok(None);
        }
        if got < 6 || &header[..4] != b"LZIP" {
            if self.members > 0 {
                // Trailing data after the last member: ignored, like lzip.
                return Ok(None);
            }
            return Err(invalid("not an lzip stream (no LZIP header)".into()));
        }
        if header[4] != 1 {
            return Err(invalid(format!(
                "lzip version {} is not supported (only 1)",
                header[4]
            )));
        }
        let dict = dictionary_size(header[5]).ok_or_else(|| {
            invalid(format!(
                "invalid lzip dictionary size byte {:#04x}",
                header[5]
            ))
        })?;
        if u64::from(dict) > self.memlimit {
            return Err(invalid(format!(
                "lzip dictionary of {dict} bytes is over the decoder memory limit of {}",
                self.memlimit
            )));
        }
        let mut alone = [0u8; 13];
        alone[0] = 0x5d; // lc=3, lp=0, pb=2: (pb * 5 + lp) * 9 + lc
        alone[1..5].copy_from_slice(&dict.to_le_bytes());
        alone[5..13].fill(0xff); // size unknown: the end marker ends the data
        let stream = Stream::new_lzma_decoder(self.memlimit).map_err(io::Error::other)?;
        self.crc = flate2::Crc::new();
        self.data_size = 0;
        Ok(Some(Box::new(Body {
            stream,
            header: alone,
            header_fed: 0,
            inner,
            ended: false,
        })))
    }

    fn finish_member(&mut self, body: Body<R>) -> io::Result<R> {
        let mut inner = body.inner;
        let mut trailer = [0u8; 20];
        if read_full(&mut inner, &mut trailer)? < 20 {
            return Err(invalid("lzip member is truncated (trailer missing)".into()));
        }
        let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let mut size = [0u8; 8];
        size.copy_from_slice(&trailer[4..12]);
        let size = u64::from_le_bytes(size);
        if crc != self.crc.sum() {
            return Err(invalid(format!(
                "lzip CRC mismatch: trailer says {crc:08x}, data gives {:08x}",
                self.crc.sum()
            )));
        }
        if size != self.data_size {
            return Err(invalid(format!(
                "lzip size mismatch: trailer says {size} bytes, data has {}",
                self.data_size
            )));
        }
        self.members += 1;
        Ok(inner)
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

impl<R: BufRead> Read for LzipReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, State::Failed) {
                State::Done => {
                    self.state = State::Done;
                    return Ok(0);
                }
                State::Failed => return Err(invalid("lzip stream already failed".into())),
                State::Header(inner) => match self.start_member(inner)? {
                    Some(body) => self.state = State::Body(body),
                    None => self.state = State::Done,
                },
                State::Body(mut body) => {
                    let n = body.read(buf)?;
                    if n > 0 {
                        self.crc.update(&buf[..n]);
                        self.data_size += n as u64;
                        self.state = State::Body(body);
                        return Ok(n);
                    }
                    let inner = self.finish_member(*body)?;
                    self.state = State::Header(inner);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Makes an lzip member of `data` with liblzma's `.lzma` encoder: its
    /// output is the 13-byte header and raw LZMA data with an end marker,
    /// which is what lzip stores between its own header and trailer.
    pub(crate) fn lzip(data: &[u8]) -> Vec<u8> {
        let opts = xz2::stream::LzmaOptions::new_preset(6).unwrap();
        let stream = Stream::new_lzma_encoder(&opts).unwrap();
        let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
        enc.write_all(data).unwrap();
        let alone = enc.finish().unwrap();
        let dict = u32::from_le_bytes([alone[1], alone[2], alone[3], alone[4]]);
        assert!(dict.is_power_of_two());
        let mut out = b"LZIP\x01".to_vec();
        out.push(dict.trailing_zeros() as u8);
        out.extend_from_slice(&alone[13..]);
        let mut crc = flate2::Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        let member_size = out.len() as u64 + 8;
        out.extend_from_slice(&member_size.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        LzipReader::new(bytes, 64 << 20).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn one_and_two_members() {
        let data = b"hello lzip ".repeat(1000);
        assert_eq!(decode(&lzip(&data)).unwrap(), data);
        let mut two = lzip(b"first ");
        two.extend(lzip(b"second"));
        assert_eq!(decode(&two).unwrap(), b"first second");
        // Trailing garbage after a member is ignored.
        let mut trailing = lzip(b"x");
        trailing.extend_from_slice(b"garbage");
        assert_eq!(decode(&trailing).unwrap(), b"x");
    }

    #[test]
    fn corruption_is_an_error() {
        let good = lzip(&b"abc".repeat(100));
        let mut bad_crc = good.clone();
        let at = bad_crc.len() - 20;
        bad_crc[at] ^= 0xff;
        assert!(
            decode(&bad_crc)
                .unwrap_err()
                .to_string()
                .contains("CRC mismatch")
        );
        let truncated = &good[..good.len() - 10];
        assert!(decode(truncated).is_err());
        assert!(
            decode(b"LZIP\x02\x0c")
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
        assert!(
            decode(b"LZIP\x01\x01")
                .unwrap_err()
                .to_string()
                .contains("dictionary")
        );
        assert!(decode(b"not lzip").is_err());
    }

    #[test]
    fn dictionary_sizes() {
        assert_eq!(dictionary_size(0x0c), Some(4096));
        assert_eq!(dictionary_size(0x17), Some(8 << 20));
        // 2^20 minus 2/16 of it.
        assert_eq!(dictionary_size(0x54), Some((1 << 20) - (1 << 17)));
        assert_eq!(dictionary_size(0x0b), None);
        assert_eq!(dictionary_size(0x1e), None);
    }

    #[test]
    fn memory_limit_is_enforced() {
        let mut huge = lzip(b"x");
        huge[5] = 0x1d; // 512 MiB dictionary
        let mut out = Vec::new();
        let err = LzipReader::new(&huge[..], 1 << 20)
            .read_to_end(&mut out)
            .unwrap_err();
        assert!(err.to_string().contains("memory limit"), "{err}");
    }
}
