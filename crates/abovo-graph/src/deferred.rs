//! Parts of a graph decoded on first use.

use std::sync::OnceLock;

/// A part of a graph that is either there, or decoded on first use: the
/// snapshot compiled into the program leaves the sections a query may not
/// need (derivation facts, store metadata) compressed until one asks, so
/// that `abovo path` does not pay for them.
pub(crate) struct Deferred<T> {
    value: OnceLock<T>,
    decode: Option<Box<dyn Fn() -> T + Send + Sync>>,
}

impl<T> Deferred<T> {
    /// A part that is there.
    pub(crate) fn ready(value: T) -> Deferred<T> {
        Deferred {
            value: OnceLock::from(value),
            decode: None,
        }
    }

    /// A part that `decode` gives on first use (once, whichever thread
    /// asks first).
    pub(crate) fn later(decode: impl Fn() -> T + Send + Sync + 'static) -> Deferred<T> {
        Deferred {
            value: OnceLock::new(),
            decode: Some(Box::new(decode)),
        }
    }

    /// The part, if it is there already (decoded, or never deferred):
    /// what may be had of it without decoding.
    pub(crate) fn decoded(&self) -> Option<&T> {
        self.value.get()
    }
}

impl<T: Default> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::ready(T::default())
    }
}

impl<T: Default> Deferred<T> {
    /// The part, decoded now if it was not yet (a decoder that is missing
    /// gives the empty part).
    pub(crate) fn get(&self) -> &T {
        self.value
            .get_or_init(|| self.decode.as_ref().map(|d| d()).unwrap_or_default())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.decoded() {
            Some(v) => v.fmt(f),
            None => f.write_str("(not decoded yet)"),
        }
    }
}
