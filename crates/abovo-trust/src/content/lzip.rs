//! Reading lzip (`.lz`) streams: the reader lives in `abovo-fetch`, which
//! also reads lzip-compressed NARs from substitute servers.

pub use abovo_fetch::compression::lzip::{LzipReader, dictionary_size};
