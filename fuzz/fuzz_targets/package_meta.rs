//! The reader of `packages-meta.tsv` (`--package-meta`, `snapshot create`)
//! on arbitrary bytes: an error or a table, never a panic; every row it
//! keeps answers its questions without panicking.
#![no_main]
use abovo_graph::PackageTable;
use abovo_graph::package_meta::PackageMeta;
use abovo_store::StoreDir;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The reader takes a file, as the command line gives it.
    let path = std::env::temp_dir().join(format!("abovo-fuzz-meta-{}.tsv", std::process::id()));
    std::fs::write(&path, data).expect("write the input");
    let read = PackageMeta::read(&path, &PackageTable::default(), &StoreDir::default());
    if let Ok((meta, table)) = read {
        let rows = table.as_ref().map_or(0, |t| t.rows().len());
        for row in 0..rows {
            if let Some(info) = meta.get(row) {
                let _ = (
                    info.location(),
                    info.synopsis(),
                    info.description(),
                    info.hidden(),
                );
                let _ = (
                    info.licenses().count(),
                    info.systems().count(),
                    info.superseded_by(),
                );
            }
        }
    }
});
