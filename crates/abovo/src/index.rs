//! Loading a store directory through its persistent index (`abovo-index`):
//! where the cache is, which daemon database tells what was registered
//! since, and how the index's notes reach the user.
//!
//! The index lives in abovo's cache, the one `abovo fetch` uses
//! (`$ABOVO_CACHE_DIR`, else `$XDG_CACHE_HOME/abovo`, else
//! `~/.cache/abovo`), under `index/`. The database is the one a Guix or Nix
//! daemon keeps beside the store (`<root>/var/guix/db/db.sqlite` for
//! `<root>/gnu/store`, `<root>/nix/var/nix/db/db.sqlite` for
//! `<root>/nix/store`), opened read-only and only when the store directory
//! changed since the index was made.

use crate::output::Context;
use crate::source::LoadProgress;
use abovo_build::store::db::Database;
use abovo_graph::Graph;
use abovo_store::StoreDir;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

/// The `--help` text of `--no-index`.
pub const NO_INDEX_HELP: &str = "Parse every `.drv` of a store directory (or directory of \
`.drv` files) instead of using abovo's index of it. By default the first query on a directory \
indexes it in abovo's cache (index/ in $ABOVO_CACHE_DIR, else $XDG_CACHE_HOME/abovo, else \
~/.cache/abovo), and later queries parse only the `.drv` files added since (told by the \
daemon's database, or by listing the directory) and forget deleted ones. ABOVO_NO_INDEX=1 \
does the same; `abovo index --rebuild` makes an index anew.";

/// Whether ABOVO_NO_INDEX asks for no index (any value but empty, `0`,
/// `false`, `no` or `off`).
pub fn disabled_by_env() -> bool {
    std::env::var("ABOVO_NO_INDEX").is_ok_and(|v| {
        !matches!(
            v.to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    })
}

/// The directory the cache is in, when one can be named.
pub fn cache_dir() -> Option<PathBuf> {
    abovo_fetch::cache::Cache::default_dir()
}

/// Loads the `.drv` files of `dir` through its index; `rebuild` makes the
/// index anew. The index's note (damaged and rebuilt, cannot be written)
/// is said once.
pub fn load(
    dir: &Path,
    store: &StoreDir,
    ctx: &Context,
    reporter: &LoadProgress,
    rebuild: bool,
) -> anyhow::Result<(Graph, abovo_index::Report)> {
    let cache = cache_dir();
    let registry = DaemonDatabase::new(dir, store);
    let on_damage =
        crate::snapshot_cache::stop_on_damage_of(format!("the index of `{}`", dir.display()), None);
    let opts = abovo_index::Options {
        cache: cache.as_deref(),
        store,
        registry: Some(&registry),
        reporter,
        rebuild,
        on_damage: Some(&on_damage),
    };
    let loaded = abovo_index::load(dir, &opts);
    reporter.clear();
    let loaded = loaded?;
    if let Some(note) = &loaded.report.note {
        ctx.note(note);
    }
    Ok((loaded.graph, loaded.report))
}

/// The daemon's database beside a store directory, opened on first use.
struct DaemonDatabase {
    dir: PathBuf,
    store: StoreDir,
    db: OnceCell<Option<Database>>,
}

impl DaemonDatabase {
    fn new(dir: &Path, store: &StoreDir) -> DaemonDatabase {
        DaemonDatabase {
            dir: dir.to_owned(),
            store: store.clone(),
            db: OnceCell::new(),
        }
    }

    fn db(&self) -> Result<&Database, String> {
        self.db
            .get_or_init(|| {
                let file = abovo_build::foreign::ForeignStore::default_database(&self.dir).ok()?;
                Database::open_read_only(&file, Some(self.store.clone()))
                    .ok()
                    .map(|(db, _)| db)
            })
            .as_ref()
            .ok_or_else(|| "no database".to_owned())
    }
}

impl abovo_index::Registry for DaemonDatabase {
    fn state(&self) -> Result<(i64, u64), String> {
        self.db()?.registration_state().map_err(|e| e.to_string())
    }

    fn since(&self, id: i64) -> Result<(u64, Vec<String>), String> {
        self.db()?.registered_since(id).map_err(|e| e.to_string())
    }
}
