//! xz sections of the dense compressed form (format version 6, see the
//! [format](super)): LZMA2 at preset 9e packs the snapshot's sections 4%
//! tighter than zstd at level 19 (12.07 MB against 12.59 MB for Guix
//! 1.5.0), which is what keeps the `abovo` binary, which carries one,
//! under its 25 MB. It decodes several times slower than zstd, which the
//! built-in snapshot pays once, when it is expanded into the cache.

use super::SnapshotError;
use std::io::Read;

/// The first bytes of every xz stream.
pub(super) const MAGIC: &[u8; 6] = b"\xFD7zXZ\x00";

/// The most memory the decoder may take for one section. A section of the
/// dense form is written with a dictionary no larger than itself and at
/// most 64 MiB (what preset 9 uses); a stream that asks for more is not
/// one of ours, and refusing it bounds what a hostile file can allocate.
const MEMLIMIT: u64 = 80 << 20;

/// liblzma's `LZMA_PRESET_EXTREME` flag (`-e`), which `xz2` does not name.
const PRESET_EXTREME: u32 = 1 << 31;

/// Whether `frame` starts as an xz stream.
pub(super) fn is_xz(frame: &[u8]) -> bool {
    frame.starts_with(MAGIC)
}

fn err(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Decompress(format!("xz: {e}"))
}

/// Compresses `body` as one xz stream at preset 9e, with a dictionary just
/// large enough for it (a smaller dictionary costs the decoder less memory
/// and the output nothing).
pub(super) fn compress(body: &[u8]) -> Result<Vec<u8>, SnapshotError> {
    let mut opts = xz2::stream::LzmaOptions::new_preset(9 | PRESET_EXTREME).map_err(err)?;
    let dict = (body.len().max(4096) as u64)
        .next_power_of_two()
        .min(64 << 20);
    opts.dict_size(dict as u32);
    let mut filters = xz2::stream::Filters::new();
    filters.lzma2(&opts);
    let stream = xz2::stream::Stream::new_stream_encoder(&filters, xz2::stream::Check::Crc64)
        .map_err(err)?;
    let mut out = Vec::with_capacity(body.len() / 3);
    xz2::read::XzEncoder::new_stream(body, stream)
        .read_to_end(&mut out)
        .map_err(err)?;
    Ok(out)
}

/// Decompresses the xz stream `frame`, never to more than `limit` bytes: a
/// stream that holds more is refused once the limit is passed
/// (`Ok(None)`), whatever its index says.
pub(super) fn decompress(frame: &[u8], limit: u64) -> Result<Option<Vec<u8>>, SnapshotError> {
    let stream = xz2::stream::Stream::new_stream_decoder(MEMLIMIT, 0).map_err(err)?;
    let announced = uncompressed_size(frame).unwrap_or(0).min(limit);
    let mut out = Vec::with_capacity(announced as usize);
    xz2::read::XzDecoder::new_stream(frame, stream)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(err)?;
    Ok((out.len() as u64 <= limit).then_some(out))
}

/// The uncompressed size an xz stream's index announces (the sum over its
/// blocks), read from the stream footer and the index before it; `None`
/// when they do not parse. Only a hint (for a buffer's capacity, and for
/// `snapshot info`): the decoder checks the index against the blocks.
pub(super) fn uncompressed_size(frame: &[u8]) -> Option<u64> {
    // The footer: CRC32, backward size, flags, "YZ".
    let footer = frame.get(frame.len().checked_sub(12)?..)?;
    if &footer[10..] != b"YZ" {
        return None;
    }
    let backward = (u64::from(u32::from_le_bytes(footer[4..8].try_into().ok()?)) + 1) * 4;
    let start = (frame.len() - 12).checked_sub(usize::try_from(backward).ok()?)?;
    let index = frame.get(start..frame.len() - 12)?;
    // Indicator 0, number of records, then per record the unpadded and
    // the uncompressed size, each a multibyte integer.
    let (&indicator, mut rest) = index.split_first()?;
    if indicator != 0 {
        return None;
    }
    let mut varint = || -> Option<u64> {
        let mut v = 0u64;
        for (i, &b) in rest.iter().enumerate().take(9) {
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                rest = &rest[i + 1..];
                return Some(v);
            }
        }
        None
    };
    let records = varint()?;
    let mut total = 0u64;
    for _ in 0..records.min(1 << 20) {
        let _unpadded = varint()?;
        total = total.checked_add(varint()?)?;
    }
    Some(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_announced_size() {
        let body: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let frame = compress(&body).unwrap();
        assert!(is_xz(&frame));
        assert!(frame.len() < body.len() / 10);
        assert_eq!(uncompressed_size(&frame), Some(body.len() as u64));
        assert_eq!(decompress(&frame, 1 << 30).unwrap(), Some(body.clone()));
        // One byte under the size: refused, not cut short.
        assert_eq!(decompress(&frame, body.len() as u64 - 1).unwrap(), None);
        // Damaged: an error, never a panic.
        let mut bad = frame.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        assert!(decompress(&bad, 1 << 30).is_err());
        assert!(decompress(&frame[..frame.len() - 3], 1 << 30).is_err());
        assert_eq!(uncompressed_size(&frame[..5]), None);
    }
}
