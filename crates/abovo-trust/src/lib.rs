//! What a package rests on: seeds, their kinds and the evidence for them.
//!
//! This crate is the analysis stage of abovo (bytes → model → graph →
//! **analysis** → report). It answers design.md's trust questions:
//!
//! | module | owns |
//! | --- | --- |
//! | [`kind`] | the vocabulary: [`Kind`] and [`Evidence`] |
//! | [`content`] | classification from bytes: magic numbers, archives, generated text |
//!
//! It knows nothing about terminals or HTML: every answer is a value that
//! serialises to JSON, and the CLI renders it.
#![deny(missing_docs)]

pub mod content;
pub mod kind;

pub use kind::{Evidence, Kind};
