//! The names abovo gives new store items, checked before anything is
//! written: what `checkStoreName` allows (`abovo_store::store_path::validate_name`)
//! and at most [`MAX_NAME_LEN`] bytes.
//!
//! The Guix daemon has no length limit and leaves it to the file system, so
//! a long name is stored and then fails later, at the lock file
//! (`<path>.lock`) or the chroot (`<drv>.chroot`), with "File name too
//! long". Modern Nix limits names to 211 characters, which keeps every file
//! named after a store path within the 255 bytes of a file name: 32
//! characters of hash, a `-`, the name and `.chroot` (a `.drv`'s chroot
//! directory) fit. abovo uses the same limit for every item it makes: the
//! name given to `abovo add`, `NAME.drv`, and `NAME-OUTPUT` for each output.

use abovo_store::store_path::validate_name;

/// The longest store path name abovo makes (Nix's limit).
pub const MAX_NAME_LEN: usize = 211;

/// Checks `name` for a new store item: valid for the Guix daemon and at
/// most [`MAX_NAME_LEN`] bytes. A too long name is not repeated in the
/// error (callers name it, shortened, and say what it is for).
pub fn check_new_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "it is {} bytes long; a store name has at most {MAX_NAME_LEN} (as in Nix: every \
             file named after a store path must fit in 255 bytes)",
            name.len()
        ));
    }
    validate_name(name).map_err(|e| e.to_string())
}

/// `text` cut to its first 40 characters (followed by `…`) when longer,
/// so that an error about a 100,000-character name stays readable.
pub fn shorten(text: &str) -> String {
    const KEEP: usize = 40;
    match text.char_indices().nth(KEEP) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// Where `what` (an argument, an environment variable) has a NUL byte,
/// which no `execve` can carry: the builder would see a shorter string than
/// the derivation (and its hash) says.
pub fn check_no_nul(what: &str, text: &[u8]) -> Result<(), String> {
    match text.iter().position(|&b| b == 0) {
        None => Ok(()),
        Some(at) => Err(format!(
            "{what} has a NUL byte at offset {at}; a program's arguments and environment \
             cannot hold one"
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    #[test]
    fn names_up_to_the_limit_are_accepted() {
        assert!(check_new_name(&"a".repeat(MAX_NAME_LEN)).is_ok());
        let long = "a".repeat(MAX_NAME_LEN + 1);
        let e = check_new_name(&long).unwrap_err();
        assert!(
            e.contains("212 bytes long") && e.contains("at most 211"),
            "{e}"
        );
        assert!(!e.contains(&long[..50]), "the name is not repeated: {e}");
        assert!(check_new_name("").is_err());
        assert!(check_new_name(".x").is_err());
        assert!(check_new_name("a/b").is_err());
        assert!(check_new_name("hello-2.12.1").is_ok());
    }

    #[test]
    fn shorten_keeps_short_texts_and_cuts_on_characters() {
        assert_eq!(shorten("abc"), "abc");
        let cut = shorten(&"é".repeat(100));
        assert_eq!(cut.chars().count(), 41);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn nul_bytes_are_found() {
        assert!(check_no_nul("x", b"abc").is_ok());
        let e = check_no_nul("its argument 2", b"a\0b").unwrap_err();
        assert!(
            e.contains("its argument 2 has a NUL byte at offset 1"),
            "{e}"
        );
    }
}
