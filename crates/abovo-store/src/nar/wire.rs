//! The primitive NAR encoding: length-prefixed, zero-padded byte strings,
//! the fixed tokens of the grammar, and the limits the reader puts on
//! lengths an archive declares.

use std::io::{self, Write};

/// The magic first token of every NAR.
pub const MAGIC: &[u8] = b"nix-archive-1";

/// Longest entry name the reader accepts: Linux's `NAME_MAX`. A longer name
/// could not be unpacked anyway, and the cap keeps a hostile length from
/// making the reader allocate.
pub const MAX_NAME_LEN: u64 = 255;

/// Longest symlink target the reader accepts: `PATH_MAX - 1`.
pub const MAX_TARGET_LEN: u64 = 4095;

/// Deepest directory nesting the reader accepts. Real store items stay far
/// below it (Guix 1.5.0's deepest are a few dozen levels); the cap bounds the
/// memory and the directory handles a hostile archive can make an unpacker
/// hold.
pub const MAX_DEPTH: usize = 512;

/// Number of zero bytes that follow `len` bytes to reach a multiple of 8.
pub const fn padding_len(len: u64) -> usize {
    ((8 - (len % 8)) % 8) as usize
}

/// Length of `str(b)` on the wire for `|b| = len`: 8 + len + padding.
pub const fn encoded_len(len: u64) -> u64 {
    8 + len + padding_len(len) as u64
}

/// Writes `str(bytes)`: the little-endian u64 length, the bytes, the padding.
///
/// Tokens are short, so they are assembled into one buffer and written with
/// one call; a hashing sink then sees few, larger updates.
pub fn write_str<W: Write + ?Sized>(out: &mut W, bytes: &[u8]) -> io::Result<()> {
    const INLINE: usize = 120;
    let total = encoded_len(bytes.len() as u64) as usize;
    if total <= INLINE {
        let mut buf = [0u8; INLINE];
        buf[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        buf[8..8 + bytes.len()].copy_from_slice(bytes);
        out.write_all(&buf[..total])
    } else {
        out.write_all(&(bytes.len() as u64).to_le_bytes())?;
        out.write_all(bytes)?;
        write_padding(out, bytes.len() as u64)
    }
}

/// Writes several tokens in a row (`str(a) str(b) …`).
pub fn write_tokens<W: Write + ?Sized>(out: &mut W, tokens: &[&[u8]]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(
        tokens
            .iter()
            .map(|t| encoded_len(t.len() as u64))
            .sum::<u64>() as usize,
    );
    for t in tokens {
        write_str(&mut buf, t)?;
    }
    out.write_all(&buf)
}

/// Writes the zero padding that follows `len` bytes of contents.
pub fn write_padding<W: Write + ?Sized>(out: &mut W, len: u64) -> io::Result<()> {
    let pad = padding_len(len);
    if pad > 0 {
        out.write_all(&[0u8; 8][..pad])?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn padding_rounds_up_to_eight() {
        assert_eq!(padding_len(0), 0);
        assert_eq!(padding_len(1), 7);
        assert_eq!(padding_len(7), 1);
        assert_eq!(padding_len(8), 0);
        assert_eq!(padding_len(13), 3);
        assert_eq!(encoded_len(13), 24);
        assert_eq!(encoded_len(0), 8);
    }

    #[test]
    fn str_encoding_is_length_bytes_padding() {
        let mut v = Vec::new();
        write_str(&mut v, b"abc").unwrap();
        assert_eq!(v, b"\x03\0\0\0\0\0\0\0abc\0\0\0\0\0");
        // Long strings take the other path and must encode the same way.
        let long = vec![b'x'; 300];
        let mut v = Vec::new();
        write_str(&mut v, &long).unwrap();
        assert_eq!(v.len(), 8 + 304);
        assert_eq!(&v[..8], &300u64.to_le_bytes());
        assert_eq!(&v[8..308], &long[..]);
        assert_eq!(&v[308..], &[0, 0, 0, 0]);
        let mut w = Vec::new();
        write_tokens(&mut w, &[b"(", b"type"]).unwrap();
        let mut expect = Vec::new();
        write_str(&mut expect, b"(").unwrap();
        write_str(&mut expect, b"type").unwrap();
        assert_eq!(w, expect);
    }
}
