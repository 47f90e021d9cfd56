//! What a package rests on: seeds, their kinds, the evidence for them, their
//! sizes, and the whole-distribution audit.
//!
//! This crate is the analysis stage of abovo, on top of the store and the
//! graph (docs/architecture.md). It answers the questions of docs/trust.md:
//!
//! | module | owns |
//! | --- | --- |
//! | [`kind`] | the vocabulary: [`Kind`] and [`Evidence`] |
//! | [`bytes`] | finding a seed's bytes (seed directories, stores, abovo's fetch cache) and proving they are the seed (its hash) |
//! | [`content`] | classification from bytes: compiled code by kind (native, bytecode), archives, generated text, opaque blobs (`abovo scan`) |
//! | [`items`] | where the bytes of a store item are (places), and reading them: files, trees, archive members |
//! | [`knowledge`] | the knowledge base keyed by fixed-output hash (`data/knowledge.toml`) |
//! | [`recipe`] | what a derivation runs: builder, arguments, environment and the items it reads |
//! | [`rules`] | name and URL rules, each with an id and a justification |
//! | [`classify`] | the three layers together for one seed of a graph |
//! | [`sizes`] | seed sizes and where they came from |
//! | [`signatures`] | who signed a seed's bytes: narinfos judged against the authorised keys and the seed's NAR hash |
//! | [`report`] | the trust walk (the graph's `Walk::trust`) and report of one target (`abovo seeds`) |
//! | [`packages`] | seeds in package terms: which package brings each in, and the package path to it |
//! | [`audit`] | per-package binary seed sets over a whole graph (`abovo audit`): the seeds reached, their bitsets, the counts, the attribution to packages |
//! | [`history`] | trust over time: seeds added, removed and changed between two revisions, per target and per package (`--against`), and the guard for CI |
//!
//! It knows nothing about terminals or HTML: every answer is a value that
//! serialises to JSON, and the CLI renders it.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod audit;
pub mod bytes;
pub mod classify;
pub mod content;
pub mod history;
pub mod items;
pub mod kind;
pub mod knowledge;
pub mod packages;
pub mod recipe;
pub mod report;
pub mod rules;
pub mod signatures;
pub mod sizes;
#[cfg(test)]
mod test_corpus;

pub use kind::{Evidence, Kind};
