//! The bytes of store items: where they are, and reading them — files and
//! trees of an item, and the members of archives inside it.
//!
//! `abovo show` prints the builder scripts and patches a derivation runs,
//! `abovo ls` and `abovo cat` list and print sources and fixed outputs; all
//! three ask the same question: *where are the bytes of store item X?* A
//! [`Places`] list answers it: each [`Place`] (a store directory, a folder
//! of fetched files, an archive of items such as the Guix corpus's
//! `sources.tar.zst`, the items built into abovo, a cache) is asked in
//! order, and the first that holds the item is read.
//!
//! | module | owns |
//! | --- | --- |
//! | [`entry`] | [`Entry`]: a file, directory or link of an item or archive, as every place and archive hands it over |
//! | [`place`] | [`Place`], [`Wanted`], [`DiskPlace`], [`ItemArchive`] and the ordered [`Places`] |
//! | [`path`] | [`ItemPath`]: `STORE-PATH[/PATH]` as people type it |
//! | `archive` | the members of tar, zip and `ar` archives under compression layers (the content scan's readers) |
//! | [`resolve`] | following a path through directories and archives: [`cat`], [`list`] |
//! | [`export`] | writing an archive of items, deterministically (`abovo export`) |
//! | [`summary`] | what `show` prints of each item: text, or what a binary or tree is ([`summarise`]) |
//!
//! Every read is a stream: memory stays bounded whatever the size of an
//! item or archive, and nothing is written to disk. Decompression is
//! bounded by the content scan's [`Limits`](crate::content::Limits).

mod archive;
pub mod entry;
pub mod export;
pub mod path;
pub mod place;
pub mod resolve;
pub mod summary;

pub use archive::format_time;
pub use entry::{Entry, EntryKind, EntryVisitor, Flow, ItemVisitor};
pub use path::ItemPath;
pub use place::{DiskPlace, ItemArchive, Place, Places, Wanted};
pub use resolve::{Found, ListOptions, Located, cat, list};
pub use summary::{Content, ItemSummary, SummaryOptions, summarise};

use std::io::Read;
use std::path::PathBuf;

/// What [`list_archive`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveListing {
    /// An archive; its layers, outermost first (`gzip, tar`).
    Archive(String),
    /// No archive: what the bytes are (`text`, `ELF …`, `data`).
    NotAnArchive(String),
}

/// Lists the members of the archive in `data` (a file named `name`: the
/// name tells a `.tgz` from a `.tar`), under any compression, to any
/// nesting of compression layers, handing each member to `sink` as it is
/// read (nested archives are members, not opened). Member paths are
/// canonical: no leading `./` or `/`, no empty or `.` component; `..` is
/// kept, as the archive has it, since a path is only ever printed.
pub fn list_archive(
    data: &mut dyn Read,
    name: &str,
    limits: &crate::content::Limits,
    sink: &mut dyn FnMut(&Entry) -> Result<(), ItemError>,
) -> Result<ArchiveListing, ItemError> {
    struct Sink<'a>(&'a mut dyn FnMut(&Entry) -> Result<(), ItemError>);
    impl EntryVisitor for Sink<'_> {
        fn entry(&mut self, entry: &Entry, _: &mut dyn Read) -> Result<Flow, ItemError> {
            (self.0)(entry)?;
            Ok(Flow::Continue)
        }
    }
    let reading = archive::Reading::new(limits);
    match archive::read_members(data, name, name, 0, &reading, &mut Sink(sink))? {
        archive::Members::Read { format, .. } => Ok(ArchiveListing::Archive(format)),
        archive::Members::NotAnArchive { what } => Ok(ArchiveListing::NotAnArchive(what)),
    }
}

/// Why an item or a path inside it cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ItemError {
    /// What was given is not a store path.
    #[error("`{given}` is not a store path: {reason}")]
    NotAStorePath {
        /// What was given.
        given: String,
        /// Why not.
        reason: String,
    },
    /// A `..` component.
    #[error(
        "`{given}`: `..` is not allowed in a path inside a store item (give the path from the item down)"
    )]
    DotDot {
        /// What was given.
        given: String,
    },
    /// No place holds the item.
    #[error("{item} is not at hand: it is in none of {}", places_list(.places))]
    NotFound {
        /// The item.
        item: String,
        /// The places searched, in order.
        places: Vec<String>,
    },
    /// The item holds no such path (`archive`: in an archive's members).
    #[error(
        "{} has no {} `{missing}`{}",
        within,
        if *archive { "member" } else { "file" },
        similar_hint(.similar)
    )]
    NoSuchPath {
        /// The item or archive searched.
        within: String,
        /// The path not found in it.
        missing: String,
        /// Whether `within` is an archive.
        archive: bool,
        /// Entries with the same file name, to suggest.
        similar: Vec<String>,
    },
    /// A path goes on past a file that is not an archive.
    #[error("{path} is {what}, not a directory or an archive: it has no `{rest}`")]
    NotAContainer {
        /// The file.
        path: String,
        /// What it is.
        what: String,
        /// The rest of the path.
        rest: String,
    },
    /// A path goes through a link (links are not followed).
    #[error(
        "{path} is a link to `{target}`; paths through links are not followed (give the target's path)"
    )]
    ThroughLink {
        /// The link.
        path: String,
        /// Its target.
        target: String,
    },
    /// `cat` of something that is not a regular file.
    #[error("{path} is {what}, not a file")]
    NotAFile {
        /// The path.
        path: String,
        /// What it is.
        what: String,
    },
    /// A place cannot be read as a place.
    #[error("cannot read `{}`: {reason}", place.display())]
    Place {
        /// The file or directory.
        place: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file of a place on disk cannot be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Corrupt or unreadable data in an archive or compressed stream.
    #[error("{place}: {source}")]
    Corrupt {
        /// Where.
        place: String,
        /// The error.
        source: std::io::Error,
    },
    /// A bound of the content scan's limits was crossed (a decompression
    /// bomb, an archive of millions of members, nesting without end).
    #[error("{0}")]
    Limit(String),
    /// Writing the output failed (a closed pipe among others).
    #[error("cannot write the output: {0}")]
    Output(#[source] std::io::Error),
}

fn places_list(places: &[String]) -> String {
    if places.is_empty() {
        "no place (none was given)".to_owned()
    } else {
        places.join(", ")
    }
}

fn similar_hint(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", similar.join(" or "))
    }
}
