//! Builds as Remote Execution API v2 actions (`abovo build --remote`).
//!
//! abovo stays the judge of a remote build: this crate only runs the
//! builder elsewhere. [`Remote`] implements abovo-build's
//! [`RemoteExecutor`]: given what the local sandbox would run (the builder,
//! its arguments, the environment abovo-build makes, the input closure, the
//! output paths), it makes an Action, asks the ActionCache, uploads what
//! the server's CAS lacks, executes, and lays the outputs out where
//! abovo-build then checks, canonicalises, hashes, scans and registers
//! them, exactly as a local build's (docs/remote.md).
//!
//! | module | job |
//! | --- | --- |
//! | `action` | a job as `Command` and `Action` (the mapping of docs/remote.md) |
//! | `input_root` | the input root's Merkle tree, each store item's computed once |
//! | `recorded` | a store item's tree as abovo's database keeps it, checked when read |
//! | `client` | the connection, capabilities, CAS, ActionCache, Execute and its operation (re-attached with WaitExecution when its stream breaks) |
//! | `outputs` | an ActionResult's outputs written out, names and digests checked |
//! | `digest` | SHA-256 digests |
//!
//! The protocol's messages and clients are the `bazel-remote-apis` crate's
//! (generated with tonic and prost); the connection is plain HTTP/2 (no
//! TLS: a remote on another machine is reached through a tunnel).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod action;
mod client;
mod digest;
mod error;
mod input_root;
mod outputs;
mod recorded;

pub use client::Stats;
pub use digest::Key;
pub use error::RemoteError;
pub use outputs::OutputTree;

use abovo_build::build::{RemoteExecutor, RemoteJob, RemoteOutcome};
use client::Client;
use input_root::ItemCache;
use std::sync::atomic::Ordering;

/// The protocol's messages, as `bazel-remote-apis` generates them.
pub(crate) mod proto {
    pub use bazel_remote_apis::build::bazel::remote::execution::v2::*;
    pub use bazel_remote_apis::google::bytestream::*;
    pub use bazel_remote_apis::google::longrunning::*;
    pub use bazel_remote_apis::google::protobuf::Duration;
}

/// A remote execution service (one instance of one server), ready to run
/// builders.
#[derive(Debug)]
pub struct Remote {
    runtime: tokio::runtime::Runtime,
    client: Client,
    items: ItemCache,
    stats: Stats,
}

impl Remote {
    /// Connects to `url` (`grpc://HOST:PORT`) and checks that `instance`
    /// can run abovo's builds (remote execution on, SHA-256 digests).
    pub fn connect(url: &str, instance: &str) -> Result<Remote, RemoteError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|source| RemoteError::Io {
                action: "start the network runtime for",
                path: url.into(),
                source,
            })?;
        let client = runtime.block_on(Client::connect(url, instance))?;
        Ok(Remote {
            runtime,
            client,
            items: ItemCache::default(),
            stats: Stats::default(),
        })
    }

    /// At most `calls` blobs uploads in flight at once (`--remote-jobs`:
    /// the default is 16).
    pub fn limit_uploads(&mut self, calls: usize) {
        self.client.limit_uploads(calls);
    }

    /// What crossed the wire so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    async fn run(
        &self,
        job: &RemoteJob<'_>,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<RemoteOutcome, RemoteError> {
        let prepared = action::prepare(job, &self.items, &self.stats)?;
        let client = &self.client;
        if let Some(link) = prepared
            .absolute_symlink
            .as_ref()
            .filter(|_| client.forbids_absolute_symlinks())
        {
            return Err(RemoteError::Refused {
                url: client.url().to_owned(),
                reason: format!(
                    "its capabilities forbid absolute symlinks, and the inputs hold one (`{}`)",
                    link.display()
                ),
            });
        }
        // A rebuild (`--rounds`) must run the builder: neither
        // the ActionCache nor Execute's own cache lookup may answer it.
        let cached_result = if job.rebuild {
            None
        } else {
            client.cached_result(&prepared.action).await?
        };
        let (result, cached) = match cached_result {
            Some(r) => (r, true),
            None => {
                client.upload_missing(&prepared.blobs, &self.stats).await?;
                let response = client.execute(&prepared.action, job.rebuild).await?;
                RemoteError::check_status("Execute", response.status.as_ref())?;
                let result = response.result.ok_or_else(|| RemoteError::BadReply {
                    call: "Execute",
                    reason: "the response has no ActionResult".into(),
                })?;
                (result, response.cached_result)
            }
        };
        if cached {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats.executed.fetch_add(1, Ordering::Relaxed);
        }
        for (raw, digest) in [
            (&result.stdout_raw, &result.stdout_digest),
            (&result.stderr_raw, &result.stderr_digest),
        ] {
            match digest {
                Some(d) if raw.is_empty() && d.size_bytes > 0 => {
                    let data = client.read_blobs(std::slice::from_ref(d)).await?;
                    log(&data[0]);
                }
                _ => log(raw),
            }
        }
        if result.exit_code == 0 {
            for (path, dest) in job.outputs {
                outputs::materialise(client, &result, &action::relative(path)?, dest).await?;
            }
        }
        Ok(RemoteOutcome {
            exit_code: result.exit_code,
            cached,
        })
    }
}

impl RemoteExecutor for Remote {
    fn execute(
        &self,
        job: &RemoteJob<'_>,
        log: &mut dyn FnMut(&[u8]),
    ) -> Result<RemoteOutcome, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.runtime.block_on(self.run(job, log))?)
    }
}
