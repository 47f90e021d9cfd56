//! Guix 1.5.0's mirror lists, built in: the `mirrors` and
//! `content-addressed-mirrors` files every `builtin:download` derivation
//! of Guix 1.5.0 names, exactly as its store holds them (from the corpus'
//! `sources.tar.zst`). With them, `abovo fetch` expands `mirror://` and
//! asks Guix's content-addressed mirrors without a Guix store at hand; the
//! caller checks them against the NAR hash its graph records.

/// `(store base name, text)` of every built-in item.
const ITEMS: &[(&str, &str)] = &[
    (
        "qw8jnq1mlk8f8y6nnyk5p0h5m49dyymf-mirrors",
        include_str!("../data/guix-1.5.0/qw8jnq1mlk8f8y6nnyk5p0h5m49dyymf-mirrors"),
    ),
    (
        "wg1yp2vx8gb7qmcgyibqnwblahpp4bjg-content-addressed-mirrors",
        include_str!(
            "../data/guix-1.5.0/wg1yp2vx8gb7qmcgyibqnwblahpp4bjg-content-addressed-mirrors"
        ),
    ),
];

/// The text of the built-in item with this store base name.
pub fn item_text(base_name: &str) -> Option<&'static str> {
    ITEMS.iter().find(|(b, _)| *b == base_name).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_items_are_what_their_store_paths_say() {
        // A text item's store path follows from its content (it has no
        // references): what `add-text-to-store` computed.
        let store = abovo_store::StoreDir::default();
        for (base, text) in super::ITEMS {
            let name = base.split_once('-').map(|(_, n)| n).unwrap_or("");
            let digest = abovo_store::hash::sha256(text.as_bytes());
            let path = store.make_text_path_from_hash(name, &digest, []);
            assert_eq!(
                path.map(|p| store.display(&p)).ok(),
                Some(format!("/gnu/store/{base}"))
            );
        }
    }
}
