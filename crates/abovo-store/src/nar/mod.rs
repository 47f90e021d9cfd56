//! NAR (Nix ARchive): the serialisation whose SHA-256 is the "NAR hash" of a
//! store item, written, read, hashed and unpacked.
//!
//! # Grammar
//!
//! Every token is `str(b)`: an 8-byte little-endian length, the bytes, then
//! zero bytes up to the next multiple of 8 (docs/formats.md §6).
//!
//! ```text
//! nar   = str("nix-archive-1") node
//! node  = str("(") str("type") body str(")")
//! body  = str("regular") [ str("executable") str("") ] str("contents") str(<bytes>)
//!       | str("symlink") str("target") str(<target>)
//!       | str("directory") { entry }
//! entry = str("entry") str("(") str("name") str(<name>) str("node") node str(")")
//! ```
//!
//! Directory entries are sorted byte-wise, strictly increasing. Only the
//! owner-execute bit of a regular file is recorded: no other mode bit, no
//! owner, no time.
//!
//! # What lives where
//!
//! | module | job |
//! | --- | --- |
//! | [`wire`] | the primitive encoding and the limits on untrusted lengths |
//! | [`writer`] | NAR from a filesystem tree ([`dump_path`]), an in-memory [`Tree`] or bytes |
//! | [`hash`] | NAR hash and size in one pass, without holding the archive ([`hash_path`]) |
//! | [`reader`] | a strict streaming parser that calls a [`NarVisitor`] ([`parse`]) |
//! | [`restore`](mod@restore) | unpacking into a directory that cannot be escaped ([`restore`](restore::restore)) |
//!
//! Reference scanning over the same stream lives in
//! [`crate::references`]: wrap the hashing sink in a
//! [`RefScanSink`](crate::references::RefScanSink), or call
//! [`hash_and_scan_path`](crate::references::hash_and_scan_path).
//!
//! # Example
//!
//! ```
//! use abovo_store::nar;
//! // The NAR hash of a non-executable file holding "hello" (docs/formats.md §6.5).
//! let h = nar::hash_regular_bytes(b"hello", false);
//! assert_eq!(h.hash.to_nix32(), "0sg9f58l1jj88w6pdrfdpj5x9b1zrwszk84j81zvby36q9whhhqa");
//! assert_eq!(h.size, 120);
//! ```
//!
//! # Restrictions on input (the reader)
//!
//! The reader is as strict as modern Nix's `parseDump`, and stricter where a
//! lax reading could be abused: see [`reader`] for the full list. The
//! [`restore`](mod@restore) module relies on those checks (no `/`, `.`, `..`, NUL or empty
//! names, no duplicates) *and* opens everything relative to directory handles
//! with `O_NOFOLLOW`, so a hostile archive can neither name nor reach a path
//! outside its target.

pub mod hash;
pub mod reader;
pub mod restore;
pub mod wire;
pub mod writer;

pub use hash::{
    HashingReader, NarHash, NarHashSink, hash_path, hash_path_with, hash_regular_bytes,
};
pub use reader::{NarSummary, NarVisitor, ReadError, ReadErrorKind, parse, validate};
pub use restore::{RestoreError, restore};
pub use writer::{DumpError, Tree, dump_path, dump_path_filtered, write_regular, write_tree};

#[cfg(test)]
mod tests;
