//! abovo's own lzip reader (lzip NARs from `guix publish -C lzip`, `.lz`
//! tarballs in the content scan). The first byte picks the mode. Even: the
//! rest is the stream, read under a 16 MiB decoder memory limit and a 64 MiB
//! output bound; never a panic, and the same answer when the stream comes
//! one byte at a time and is read three bytes at a time. Odd: the rest is data,
//! made into an lzip member (liblzma's LZMA encoder between lzip's header
//! and trailer, with the dictionary size the first byte picks) that must
//! read back to exactly the data, also after trailing bytes lzip ignores.
#![no_main]
use abovo_fetch::compression::lzip::{LzipReader, dictionary_size};
use libfuzzer_sys::fuzz_target;
use std::io::{BufReader, Read, Write};

/// The decoder memory limit (dictionaries here are at most 1 MiB).
const MEMLIMIT: u64 = 16 << 20;

/// An lzip member of `data` with the dictionary `2^log` bytes.
fn member(data: &[u8], log: u32) -> Vec<u8> {
    let mut opts = xz2::stream::LzmaOptions::new_preset(1).expect("preset 1");
    opts.dict_size(1 << log);
    let stream = xz2::stream::Stream::new_lzma_encoder(&opts).expect("an LZMA encoder");
    let mut enc = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
    enc.write_all(data).expect("compress");
    let alone = enc.finish().expect("compress");
    let mut out = b"LZIP\x01".to_vec();
    out.push(log as u8);
    out.extend_from_slice(&alone[13..]);
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let size = out.len() as u64 + 8;
    out.extend_from_slice(&size.to_le_bytes());
    out
}

fn read(stream: &[u8], memlimit: u64) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    LzipReader::new(stream, memlimit)
        .take(64 << 20)
        .read_to_end(&mut out)?;
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let whole = read(rest, MEMLIMIT);
        if let Ok(out) = &whole {
            assert!(dictionary_size(rest.get(5).copied().unwrap_or(0)).is_some() || out.is_empty());
        }
        // The same stream, one byte at a time from below and in reads of
        // three bytes: the state machine must give the same answer.
        if whole.as_ref().is_ok_and(|out| out.len() < 1 << 20) || whole.is_err() {
            let mut r = LzipReader::new(BufReader::with_capacity(1, rest), MEMLIMIT);
            let mut small = Vec::new();
            let mut buf = [0u8; 3];
            let trickled = loop {
                match r.read(&mut buf) {
                    Ok(0) => break Ok(small),
                    Ok(n) if small.len() < 1 << 20 => small.extend_from_slice(&buf[..n]),
                    Ok(_) => return,
                    Err(e) => break Err(e),
                }
            };
            match (whole, trickled) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("read whole: {a:?}; read in small pieces: {b:?}"),
            }
        }
    } else {
        let log = 12 + u32::from(mode >> 1) % 9;
        let mut stream = member(rest, log);
        assert_eq!(read(&stream, MEMLIMIT).expect("a member reads back"), rest);
        stream.extend_from_slice(b"trailing");
        assert_eq!(
            read(&stream, MEMLIMIT).expect("trailing bytes are ignored"),
            rest
        );
        let two = [member(rest, log), member(b"second", 12)].concat();
        assert_eq!(
            read(&two, MEMLIMIT).expect("two members read"),
            [rest, b"second"].concat()
        );
    }
});
