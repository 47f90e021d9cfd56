//! What `guix show` says of a package besides its name, version and
//! derivation: where it is defined, its home page, licences, synopsis and
//! description, the systems it supports, and whether it is hidden or
//! superseded by another package.
//!
//! The metadata is kept per row of the graph's [`PackageTable`], read from
//! a corpus's `packages-meta.tsv` (plain or zstd-compressed), which Guix
//! itself writes (`guix repl`): no header, eleven tab-separated columns
//! `name`, `version`, `drv`, `location` (`file:line:column`, as `guix show`
//! prints it), `home-page`, `licenses` (`,`-separated names), `synopsis`,
//! `description` (Texinfo, as in the package definition),
//! `supported-systems` (space-separated), `hidden` (`yes` or `no`),
//! `superseded` (`name@version`, or empty); text fields escape `\`,
//! newline, tab and carriage return with a backslash. Its rows are the
//! package table's rows: they are matched by name, version and derivation
//! (and, for a package defined twice, by module), and a metadata table
//! alone makes the package table (the module being the location's file).

use crate::column::Col;
use crate::error::LoadError;
use crate::packages::{Package, PackageTable};
use crate::strings::{Interner, StrId, Strings};
use crate::tsv;
use abovo_store::store_path::StoreDir;
use rustc_hash::FxHashMap;
use std::path::Path;

/// The metadata of a package table's rows. See the [module
/// documentation](self).
#[derive(Debug, Clone, Default)]
pub struct PackageMeta {
    pub(crate) strings: Strings,
    /// Per row of the package table; empty when no metadata was loaded
    /// (owned, or borrowed from an in-place snapshot, its ids checked).
    pub(crate) rows: Col<MetaRow>,
}

/// One row's fields, as ids into the metadata's strings: 32 bytes of plain
/// data, as an in-place snapshot stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct MetaRow {
    /// [`MetaRow::KNOWN`] and [`MetaRow::HIDDEN`].
    pub(crate) flags: u32,
    /// Location, home page, licences, synopsis, description, systems,
    /// superseded: the table's columns in order.
    pub(crate) fields: [StrId; 7],
}

// SAFETY: `MetaRow` is `#[repr(C)]` over eight `u32`s (a `u32` and seven
// `StrId`s, each `#[repr(transparent)]` over a `u32`): no padding, every
// bit pattern is a value (ids are range-checked before use), all zeros
// is one.
#[allow(unsafe_code)]
unsafe impl bytemuck::Zeroable for MetaRow {}
// SAFETY: as above; it is `Copy` and `'static`.
#[allow(unsafe_code)]
unsafe impl bytemuck::Pod for MetaRow {}

impl MetaRow {
    /// The flag of a row the metadata table had (not set for a package
    /// table row it lacks).
    pub(crate) const KNOWN: u32 = 1;
    /// The flag of a package hidden from the user interface.
    pub(crate) const HIDDEN: u32 = 2;

    /// The fields that are strings, in the order of the table's columns
    /// (and of a snapshot's).
    pub(crate) fn text_fields(&self) -> [StrId; 7] {
        self.fields
    }

    /// A row of these fields (in [`MetaRow::text_fields`] order).
    pub(crate) fn from_fields(known: bool, hidden: bool, fields: [StrId; 7]) -> MetaRow {
        MetaRow {
            flags: (u32::from(known) * Self::KNOWN) | (u32::from(hidden) * Self::HIDDEN),
            fields,
        }
    }

    pub(crate) fn known(&self) -> bool {
        self.flags & Self::KNOWN != 0
    }

    pub(crate) fn hidden(&self) -> bool {
        self.flags & Self::HIDDEN != 0
    }
}

/// The metadata of one package.
#[derive(Debug, Clone, Copy)]
pub struct PackageInfo<'a> {
    meta: &'a PackageMeta,
    row: &'a MetaRow,
}

impl<'a> PackageInfo<'a> {
    fn text(&self, id: StrId) -> &'a str {
        self.meta.strings.get(id)
    }

    /// Where the package is defined: `file:line:column`, e.g.
    /// `gnu/packages/base.scm:97:2`; empty when unknown.
    pub fn location(&self) -> &'a str {
        self.text(self.row.fields[0])
    }

    /// Its home page (a URL), possibly empty.
    pub fn home_page(&self) -> &'a str {
        self.text(self.row.fields[1])
    }

    /// Its licences' names (`GPL 3+`, …), in the package's order.
    pub fn licenses(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.text(self.row.fields[2])
            .split(',')
            .filter(|l| !l.is_empty())
    }

    /// Its synopsis, as written in the package (Texinfo).
    pub fn synopsis(&self) -> &'a str {
        self.text(self.row.fields[3])
    }

    /// Its description, as written in the package (Texinfo).
    pub fn description(&self) -> &'a str {
        self.text(self.row.fields[4])
    }

    /// The systems it supports (`x86_64-linux`, …), in Guix's order.
    pub fn systems(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.text(self.row.fields[5])
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// Whether it is hidden from the user interface.
    pub fn hidden(&self) -> bool {
        self.row.hidden()
    }

    /// The package that supersedes it (`name@version`), when it is
    /// deprecated in favour of another.
    pub fn superseded_by(&self) -> Option<&'a str> {
        Some(self.text(self.row.fields[6])).filter(|s| !s.is_empty())
    }
}

impl PackageMeta {
    /// Whether no metadata was loaded.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The metadata of package table row `row`, when known.
    pub fn get(&self, row: usize) -> Option<PackageInfo<'_>> {
        let r = self.rows.get(row).filter(|r| r.known())?;
        Some(PackageInfo { meta: self, row: r })
    }

    /// Reads `packages-meta.tsv` (see the [module documentation](self)) for
    /// the rows of `table`. When `table` is empty, the metadata makes the
    /// package table, which is returned too.
    pub fn read(
        path: &Path,
        table: &PackageTable,
        store: &StoreDir,
    ) -> Result<(PackageMeta, Option<PackageTable>), LoadError> {
        let mut file = tsv::Table::open_headerless(path)?;
        let path = file.path().to_owned();
        let mut strings = Interner::new();
        let mut read: Vec<(Package, MetaRow, usize)> = Vec::new();
        while let Some((line, f)) = file.next_row()? {
            let bad = |reason: String| tsv::bad(&path, line, reason);
            if f.len() != 11 {
                return Err(bad(format!(
                    "expected 11 tab-separated fields (name, version, drv, location, home-page, \
                     licenses, synopsis, description, supported-systems, hidden, superseded), \
                     found {}",
                    f.len()
                )));
            }
            let derivation = store.parse(f[2]).map_err(|e| {
                bad(format!(
                    "bad derivation path: {}",
                    tsv::clip(&e.to_string())
                ))
            })?;
            let hidden = match f[9] {
                "yes" => true,
                "no" => false,
                other => {
                    return Err(bad(format!(
                        "hidden must be `yes` or `no`, not `{}`",
                        tsv::clip(other)
                    )));
                }
            };
            let mut text = [StrId(0); 7];
            for (slot, &column) in text.iter_mut().zip([3, 4, 5, 6, 7, 8, 10].iter()) {
                *slot = strings.intern(&tsv::unescape(f[column]).map_err(&bad)?);
            }
            let location = tsv::unescape(f[3]).map_err(&bad)?;
            let package = Package {
                name: tsv::unescape(f[0]).map_err(&bad)?.into_owned(),
                version: tsv::unescape(f[1]).map_err(&bad)?.into_owned(),
                derivation,
                module: location_file(&location).to_owned(),
            };
            read.push((package, MetaRow::from_fields(true, hidden, text), line));
        }
        let strings = strings.finish();
        if table.is_empty() {
            let (packages, rows): (Vec<Package>, Vec<MetaRow>) =
                read.into_iter().map(|(p, r, _)| (p, r)).unzip();
            return Ok((
                PackageMeta {
                    strings,
                    rows: rows.into(),
                },
                Some(PackageTable::new(packages)),
            ));
        }
        // Match each metadata row to a row of the table with the same
        // name, version and derivation; of a package defined twice, the
        // one of the same module.
        let mut rows_of: FxHashMap<(&str, &str, String), Vec<usize>> = FxHashMap::default();
        for (i, p) in table.rows().iter().enumerate() {
            rows_of
                .entry((&p.name, &p.version, p.derivation.to_string()))
                .or_default()
                .push(i);
        }
        let unknown = MetaRow::from_fields(false, false, [StrId(0); 7]);
        let mut rows = vec![unknown; table.len()];
        let mut taken = vec![false; table.len()];
        for (p, row, line) in read {
            let candidates = rows_of
                .get(&(
                    p.name.as_str(),
                    p.version.as_str(),
                    p.derivation.to_string(),
                ))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let free = |&&i: &&usize| !taken[i];
            let found = candidates
                .iter()
                .filter(free)
                .find(|&&i| table.rows()[i].module == p.module)
                .or_else(|| candidates.iter().find(free));
            let Some(&i) = found else {
                return Err(tsv::bad(
                    &path,
                    line,
                    format!(
                        "{}@{} ({}) is not in the package table, or is there fewer times",
                        p.name,
                        p.version,
                        store.display(&p.derivation)
                    ),
                ));
            };
            taken[i] = true;
            rows[i] = row;
        }
        Ok((
            PackageMeta {
                strings,
                rows: rows.into(),
            },
            None,
        ))
    }
}

/// The file of a `file:line:column` location (the whole text when it has
/// no line and column).
pub fn location_file(location: &str) -> &str {
    let mut parts = location.rsplitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(col), Some(line), Some(file))
            if col.bytes().all(|b| b.is_ascii_digit())
                && line.bytes().all(|b| b.is_ascii_digit()) =>
        {
            file
        }
        _ => location,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DRV: &str = "/gnu/store/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv";

    fn row(name: &str, location: &str, hidden: &str) -> String {
        format!(
            "{name}\t2.12.2\t{DRV}\t{location}\thttps://www.gnu.org/software/hello/\t\
             GPL 3+,FDL 1.3+\tHello, GNU world\tGNU Hello prints\\n@code{{Hello}}.\t\
             x86_64-linux i686-linux\t{hidden}\t\n"
        )
    }

    #[test]
    fn metadata_alone_makes_the_package_table_and_unescapes_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tsv");
        std::fs::write(&p, row("hello", "gnu/packages/base.scm:97:2", "no")).unwrap();
        let store = StoreDir::default();
        let (meta, table) = PackageMeta::read(&p, &PackageTable::default(), &store).unwrap();
        let table = table.unwrap();
        assert_eq!(table.rows()[0].module, "gnu/packages/base.scm");
        let info = meta.get(0).unwrap();
        assert_eq!(info.location(), "gnu/packages/base.scm:97:2");
        assert_eq!(info.licenses().collect::<Vec<_>>(), ["GPL 3+", "FDL 1.3+"]);
        assert_eq!(info.description(), "GNU Hello prints\n@code{Hello}.");
        assert_eq!(
            info.systems().collect::<Vec<_>>(),
            ["x86_64-linux", "i686-linux"]
        );
        assert!(!info.hidden());
        assert_eq!(info.superseded_by(), None);
        // Joined to a table that has the row twice (two modules): each
        // metadata row goes to the row of its module.
        let twice = PackageTable::new(vec![
            Package {
                module: "gnu/packages/other.scm".into(),
                ..table.rows()[0].clone()
            },
            table.rows()[0].clone(),
        ]);
        let (meta, none) = PackageMeta::read(&p, &twice, &store).unwrap();
        assert!(none.is_none());
        assert!(meta.get(0).is_none());
        assert_eq!(
            meta.get(1).unwrap().home_page(),
            "https://www.gnu.org/software/hello/"
        );
    }

    #[test]
    fn bad_rows_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.tsv");
        let store = StoreDir::default();
        let table = PackageTable::default();
        let good = row("hello", "x.scm:1:2", "no");
        for (text, want) in [
            (
                format!("{good}{}", row("hello", "x:1:2", "maybe")),
                "line 2: hidden must be",
            ),
            (
                format!("{good}a\tb\n"),
                "line 2: expected 11 tab-separated fields",
            ),
            (
                good.replace("prints\\n", "prints\\q"),
                "line 1: unknown escape `\\q`",
            ),
            (
                good.replace(DRV, "/tmp/x.drv"),
                "line 1: bad derivation path",
            ),
        ] {
            std::fs::write(&p, text).unwrap();
            let err = PackageMeta::read(&p, &table, &store)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
        }
        // A row the table lacks.
        std::fs::write(&p, &good).unwrap();
        let other = PackageTable::new(vec![Package {
            name: "other".into(),
            version: "1".into(),
            derivation: store.parse(DRV).unwrap(),
            module: String::new(),
        }]);
        let err = PackageMeta::read(&p, &other, &store)
            .unwrap_err()
            .to_string();
        assert!(err.contains("hello@2.12.2 (/gnu/store/"), "{err}");
        assert_eq!(
            location_file("gnu/packages/base.scm:97:2"),
            "gnu/packages/base.scm"
        );
        assert_eq!(location_file("odd"), "odd");
    }
}
