//! Why a remote build could not be done ([`RemoteError`]).

use std::path::PathBuf;

/// A failure of the remote service or of what it sent back (a builder that
/// exits non-zero is not one: that is the build's failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The URL is not one abovo can connect to.
    #[error("bad remote URL `{url}`: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The server could not be reached.
    #[error("cannot reach the remote execution server at {url}: {reason}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server's capabilities rule this client out.
    #[error("the remote execution server at {url} cannot run abovo's builds: {reason}")]
    Refused {
        /// The URL.
        url: String,
        /// What it lacks.
        reason: String,
    },
    /// A call failed.
    #[error("{call} failed: {status}")]
    Call {
        /// The RPC (`Execute`, `FindMissingBlobs`…).
        call: &'static str,
        /// The gRPC status the server (or the transport) gave.
        status: Box<tonic::Status>,
    },
    /// The server's answer is not what the protocol allows.
    #[error("the server's answer to {call} is wrong: {reason}")]
    BadReply {
        /// The RPC.
        call: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A blob's bytes do not have the digest they were asked by.
    #[error(
        "the blob {hash}/{size} the server sent has other bytes (SHA-256 {actual}, {actual_size} bytes)"
    )]
    BlobMismatch {
        /// The digest's hash.
        hash: String,
        /// The digest's size.
        size: i64,
        /// The hash of what came.
        actual: String,
        /// Its size.
        actual_size: usize,
    },
    /// The action cannot be expressed in the protocol.
    #[error("cannot send the build: {0}")]
    Unrepresentable(String),
    /// abovo's store database failed.
    #[error(transparent)]
    Store(#[from] abovo_build::StoreError),
    /// A store item's file no longer has the digest its recorded tree
    /// names.
    #[error(
        "`{}` has changed since its digest was recorded (SHA-256 {actual}, not {expected}); run `abovo store verify`",
        path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
        /// The digest recorded.
        expected: String,
        /// Its digest now.
        actual: String,
    },
    /// A local file could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl RemoteError {
    /// The error of the call `call` that answered `status`.
    pub(crate) fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> RemoteError {
        move |status| RemoteError::Call {
            call,
            status: Box::new(status),
        }
    }

    /// `Err` when `status` (a `google.rpc.Status` in a reply) is not OK.
    pub(crate) fn check_status(
        call: &'static str,
        status: Option<&bazel_remote_apis::google::rpc::Status>,
    ) -> Result<(), RemoteError> {
        match status {
            Some(s) if s.code != 0 => Err(RemoteError::Call {
                call,
                status: Box::new(tonic::Status::new(s.code.into(), s.message.clone())),
            }),
            _ => Ok(()),
        }
    }

    /// The error of reading or writing `path`.
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> RemoteError {
        let path = path.to_owned();
        move |source| RemoteError::Io {
            action,
            path,
            source,
        }
    }
}
