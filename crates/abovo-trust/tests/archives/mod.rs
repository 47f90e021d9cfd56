//! Archives built in memory for the content tests, with the tar, flate2,
//! xz2, bzip2, zstd and zip crates (lzip by hand: no crate writes it).
#![allow(dead_code, clippy::unwrap_used)] // tests: a panic is the failure report

use std::io::Write;

/// A GNU tar of `files` (name, bytes), mode 0755.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        builder.append_data(&mut h, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

/// gzip, default level.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// xz, preset 6.
pub fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// bzip2, default level.
pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// zstd, level 3.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 3).unwrap()
}

/// Writes `files` (deflated) with `w` and returns what it wrote.
fn write_zip<W: Write + std::io::Seek>(mut w: zip::ZipWriter<W>, files: &[(&str, &[u8])]) -> W {
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap()
}

/// A zip of `files`, deflated, written with its sizes in the local headers.
pub fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    write_zip(zip::ZipWriter::new(std::io::Cursor::new(Vec::new())), files).into_inner()
}

/// lzip by hand: liblzma's `.lzma` encoder output minus its 13-byte
/// header, between lzip's header and trailer.
pub fn lzip(data: &[u8]) -> Vec<u8> {
    let opts = xz2::stream::LzmaOptions::new_preset(6).unwrap();
    let stream = xz2::stream::Stream::new_lzma_encoder(&opts).unwrap();
    let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
    enc.write_all(data).unwrap();
    let alone = enc.finish().unwrap();
    let dict = u32::from_le_bytes([alone[1], alone[2], alone[3], alone[4]]);
    let mut out = b"LZIP\x01".to_vec();
    out.push(dict.trailing_zeros() as u8);
    out.extend_from_slice(&alone[13..]);
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let member = out.len() as u64 + 8;
    out.extend_from_slice(&member.to_le_bytes());
    out
}

/// A zip written as a stream, as Java's `jar` writes it: each member's
/// sizes in a data descriptor after its data.
pub fn streamed_zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    write_zip(zip::ZipWriter::new_stream(Vec::new()), files).into_inner()
}
