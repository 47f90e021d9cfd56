//! The connection to a server and the calls abovo makes: capabilities,
//! the content-addressable storage (FindMissingBlobs, BatchUpdateBlobs,
//! BatchReadBlobs, ByteStream for blobs over the batch limit), the
//! ActionCache and Execute (its long-running operation followed to the
//! end, through WaitExecution when the stream breaks). Uploads are
//! `upload`'s.

mod upload;

use crate::RemoteError;
use crate::digest::{self, Key};
use crate::proto::{
    self, ActionResult, BatchReadBlobsRequest, Digest, ExecuteRequest, ExecuteResponse,
    GetActionResultRequest, GetCapabilitiesRequest, WaitExecutionRequest,
    action_cache_client::ActionCacheClient, byte_stream_client::ByteStreamClient,
    capabilities_client::CapabilitiesClient,
    content_addressable_storage_client::ContentAddressableStorageClient,
    execution_client::ExecutionClient,
};
use prost::Message;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tonic::transport::{Channel, Endpoint};

/// The largest message abovo accepts from a server (gRPC's default is
/// 4 MiB; a `Tree` of a big output can be larger).
const MAX_MESSAGE: usize = 256 << 20;
/// Blobs are sent and read in batches of at most this many bytes (less
/// when the server says so), bigger ones through ByteStream in chunks of
/// [`CHUNK`].
const MAX_BATCH: i64 = 3 << 20;
const CHUNK: usize = 1 << 20;
/// Upload calls in flight at once, unless [`Client::limit_uploads`] says.
const DEFAULT_UPLOADS: usize = 16;

/// What crossed the wire, for the benchmarks and the tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// Blobs uploaded.
    pub blobs_uploaded: AtomicU64,
    /// Bytes uploaded.
    pub bytes_uploaded: AtomicU64,
    /// Actions answered by the ActionCache.
    pub cache_hits: AtomicU64,
    /// Actions executed.
    pub executed: AtomicU64,
    /// The most upload calls that were in flight at once.
    pub uploads_at_once: AtomicU64,
    /// Store items whose tree was read from abovo's database.
    pub trees_from_database: AtomicU64,
    /// Store items whose tree was computed (their files read and hashed).
    pub trees_computed: AtomicU64,
    /// Trees in abovo's database found wrong (then computed anew).
    pub trees_rejected: AtomicU64,
}

impl Stats {
    /// A plain copy of the counters: (blobs uploaded, bytes uploaded, cache
    /// hits, executed).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.blobs_uploaded.load(Ordering::Relaxed),
            self.bytes_uploaded.load(Ordering::Relaxed),
            self.cache_hits.load(Ordering::Relaxed),
            self.executed.load(Ordering::Relaxed),
        )
    }

    /// The input trees: (read from abovo's database, computed, found
    /// wrong in the database).
    pub fn trees(&self) -> (u64, u64, u64) {
        (
            self.trees_from_database.load(Ordering::Relaxed),
            self.trees_computed.load(Ordering::Relaxed),
            self.trees_rejected.load(Ordering::Relaxed),
        )
    }
}

/// A connection to one instance of a server.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    instance: String,
    channel: Channel,
    max_batch: i64,
    /// The server's CAS refuses absolute symlinks
    /// (`symlink_absolute_path_strategy` DISALLOWED).
    forbids_absolute_symlinks: bool,
    /// The uploads in flight, shared by every action.
    uploads: Arc<upload::Uploads>,
}

impl Client {
    /// Connects to `url` (`grpc://host:port` or `http://host:port`) and
    /// reads the capabilities of `instance`, refusing a server that cannot
    /// execute or does not take SHA-256 digests.
    pub async fn connect(url: &str, instance: &str) -> Result<Client, RemoteError> {
        let http = match url.split_once("://") {
            Some(("grpc" | "http", rest)) => format!("http://{rest}"),
            Some(("grpcs" | "https", _)) => {
                return Err(RemoteError::BadUrl {
                    url: url.into(),
                    reason: "TLS is not supported; use grpc:// on a trusted network or a tunnel"
                        .into(),
                });
            }
            _ => {
                return Err(RemoteError::BadUrl {
                    url: url.into(),
                    reason: "expected grpc://HOST:PORT or http://HOST:PORT".into(),
                });
            }
        };
        let endpoint = Endpoint::from_shared(http).map_err(|e| RemoteError::BadUrl {
            url: url.into(),
            reason: e.to_string(),
        })?;
        let channel = endpoint
            .connect_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
            .map_err(|e| RemoteError::Unreachable {
                url: url.into(),
                reason: error_chain(&e),
            })?;
        let mut client = Client {
            url: url.into(),
            instance: instance.into(),
            channel,
            max_batch: MAX_BATCH,
            forbids_absolute_symlinks: false,
            uploads: Arc::new(upload::Uploads::new(DEFAULT_UPLOADS)),
        };
        client.check_capabilities().await?;
        Ok(client)
    }

    /// At most `calls` upload calls in flight at once (`--remote-jobs`).
    pub fn limit_uploads(&mut self, calls: usize) {
        self.uploads = Arc::new(upload::Uploads::new(calls));
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    async fn check_capabilities(&mut self) -> Result<(), RemoteError> {
        let caps = CapabilitiesClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .get_capabilities(GetCapabilitiesRequest {
                instance_name: self.instance.clone(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::Unavailable => RemoteError::Unreachable {
                    url: self.url.clone(),
                    reason: s.message().to_owned(),
                },
                _ => RemoteError::call("GetCapabilities")(s),
            })?
            .into_inner();
        let refuse = |reason: String| RemoteError::Refused {
            url: self.url.clone(),
            reason,
        };
        let sha256 = proto::digest_function::Value::Sha256 as i32;
        let exec = caps
            .execution_capabilities
            .as_ref()
            .ok_or_else(|| refuse("it offers no remote execution".into()))?;
        if !exec.exec_enabled {
            return Err(refuse(format!(
                "remote execution is disabled for instance `{}`",
                self.instance
            )));
        }
        let cache = caps
            .cache_capabilities
            .as_ref()
            .ok_or_else(|| refuse("it offers no content-addressable storage".into()))?;
        if !cache.digest_functions.is_empty() && !cache.digest_functions.contains(&sha256) {
            return Err(refuse("it does not take SHA-256 digests".into()));
        }
        self.forbids_absolute_symlinks = cache.symlink_absolute_path_strategy
            == proto::symlink_absolute_path_strategy::Value::Disallowed as i32;
        if cache.max_batch_total_size_bytes > 0 {
            // Room for the request's own fields.
            self.max_batch =
                (cache.max_batch_total_size_bytes - 64 * 1024).clamp(64 * 1024, MAX_BATCH);
        }
        Ok(())
    }

    /// Whether the server refuses absolute symlinks (store items hold
    /// many: `bin/sh -> /gnu/store/…`).
    pub fn forbids_absolute_symlinks(&self) -> bool {
        self.forbids_absolute_symlinks
    }

    fn cas(&self) -> ContentAddressableStorageClient<Channel> {
        ContentAddressableStorageClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE)
    }

    fn instance_prefix(&self) -> String {
        if self.instance.is_empty() {
            String::new()
        } else {
            format!("{}/", self.instance)
        }
    }

    /// Reads blobs (checked against their digests): small ones in batches,
    /// big ones through ByteStream.Read.
    pub async fn read_blobs(&self, digests: &[Digest]) -> Result<Vec<Vec<u8>>, RemoteError> {
        let mut out: Vec<Option<Vec<u8>>> = vec![None; digests.len()];
        let mut batch: Vec<usize> = Vec::new();
        let mut batch_size = 0;
        for (i, d) in digests.iter().enumerate() {
            if d.size_bytes > self.max_batch {
                out[i] = Some(self.read_stream(d).await?);
                continue;
            }
            if batch_size + d.size_bytes > self.max_batch {
                self.read_batch(digests, &std::mem::take(&mut batch), &mut out)
                    .await?;
                batch_size = 0;
            }
            batch_size += d.size_bytes;
            batch.push(i);
        }
        if !batch.is_empty() {
            self.read_batch(digests, &batch, &mut out).await?;
        }
        out.into_iter()
            .zip(digests)
            .map(|(b, d)| {
                b.ok_or_else(|| RemoteError::BadReply {
                    call: "BatchReadBlobs",
                    reason: format!("the blob {}/{} is missing", d.hash, d.size_bytes),
                })
            })
            .collect()
    }

    async fn read_batch(
        &self,
        digests: &[Digest],
        batch: &[usize],
        out: &mut [Option<Vec<u8>>],
    ) -> Result<(), RemoteError> {
        let reply = self
            .cas()
            .batch_read_blobs(BatchReadBlobsRequest {
                instance_name: self.instance.clone(),
                digests: batch.iter().map(|&i| digests[i].clone()).collect(),
                acceptable_compressors: Vec::new(),
                digest_function: 0,
            })
            .await
            .map_err(RemoteError::call("BatchReadBlobs"))?
            .into_inner();
        for r in reply.responses {
            RemoteError::check_status("BatchReadBlobs", r.status.as_ref())?;
            let d = r.digest.ok_or_else(|| RemoteError::BadReply {
                call: "BatchReadBlobs",
                reason: "a response without a digest".into(),
            })?;
            digest::check(&d, &r.data)?;
            for &i in batch {
                if digests[i] == d && out[i].is_none() {
                    out[i] = Some(r.data.clone());
                }
            }
        }
        Ok(())
    }

    async fn read_stream(&self, d: &Digest) -> Result<Vec<u8>, RemoteError> {
        let resource = format!(
            "{}blobs/{}/{}",
            self.instance_prefix(),
            d.hash,
            d.size_bytes
        );
        let mut stream = ByteStreamClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .read(proto::ReadRequest {
                resource_name: resource,
                read_offset: 0,
                read_limit: 0,
            })
            .await
            .map_err(RemoteError::call("ByteStream.Read"))?
            .into_inner();
        let mut data = Vec::new();
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(RemoteError::call("ByteStream.Read"))?
        {
            data.extend_from_slice(&chunk.data);
            if data.len() as i64 > d.size_bytes {
                break;
            }
        }
        digest::check(d, &data)?;
        Ok(data)
    }

    /// The ActionCache's result for `action`, if it has one.
    pub async fn cached_result(&self, action: &Key) -> Result<Option<ActionResult>, RemoteError> {
        let r = ActionCacheClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE)
            .get_action_result(GetActionResultRequest {
                instance_name: self.instance.clone(),
                action_digest: Some(action.digest()),
                inline_stdout: true,
                inline_stderr: true,
                inline_output_files: Vec::new(),
                digest_function: 0,
            })
            .await;
        match r {
            Ok(r) => Ok(Some(r.into_inner())),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
            Err(s) => Err(RemoteError::call("GetActionResult")(s)),
        }
    }

    /// Executes `action` (already in the CAS with its inputs) and follows
    /// the operation to its end: the stream of updates, and WaitExecution
    /// when the stream ends or breaks before the operation is done (a
    /// server restarting a killed worker's action keeps the operation's
    /// name; BuildGrid closes every connection after its
    /// `grpc.max_connection_age_ms`). A closed connection or a busy server
    /// is tried again, [`RETRIES`] times in a row at most, so a server
    /// that is gone is an error within about half a minute. With
    /// `skip_cache`, the server may not answer from its cache.
    pub async fn execute(
        &self,
        action: &Key,
        skip_cache: bool,
    ) -> Result<ExecuteResponse, RemoteError> {
        let mut exec =
            ExecutionClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE);
        let request = ExecuteRequest {
            instance_name: self.instance.clone(),
            skip_cache_lookup: skip_cache,
            action_digest: Some(action.digest()),
            execution_policy: None,
            results_cache_policy: None,
            digest_function: 0,
            inline_stdout: true,
            inline_stderr: true,
            inline_output_files: Vec::new(),
        };
        let mut name = String::new();
        let mut failures = 0;
        for _stream in 0..100 + RETRIES {
            // Execute until the server has named the operation (Execute is
            // idempotent: a server merges the same action's requests).
            let (call, opened) = if name.is_empty() {
                ("Execute", exec.execute(request.clone()).await)
            } else {
                let wait = WaitExecutionRequest { name: name.clone() };
                ("WaitExecution", exec.wait_execution(wait).await)
            };
            let mut stream = match opened {
                Ok(s) => s.into_inner(),
                Err(s) if transient(&s) && failures < RETRIES => {
                    failures += 1;
                    backoff(failures).await;
                    continue;
                }
                Err(s) => return Err(RemoteError::call(call)(s)),
            };
            loop {
                match stream.message().await {
                    Ok(Some(op)) => {
                        failures = 0;
                        name.clone_from(&op.name);
                        if op.done {
                            return operation_response(op);
                        }
                    }
                    Ok(None) if name.is_empty() => {
                        return Err(RemoteError::BadReply {
                            call,
                            reason: "the stream ended before naming the operation".into(),
                        });
                    }
                    Ok(None) => break,
                    Err(s) if transient(&s) && failures < RETRIES => {
                        failures += 1;
                        backoff(failures).await;
                        break;
                    }
                    Err(s) => return Err(RemoteError::call(call)(s)),
                }
            }
        }
        Err(RemoteError::BadReply {
            call: "Execute",
            reason: "the operation's stream ended before it was done".into(),
        })
    }
}

/// How many times in a row a call broken by a closed connection or a busy
/// server is tried again.
const RETRIES: u32 = 8;

/// Whether `status` says to try again: the connection closed (a server's
/// maximum connection age, a restart) or the server busy (BuildGrid's
/// "Concurrent RPC limit exceeded").
fn transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable | tonic::Code::ResourceExhausted
    )
}

/// Waits before the `n`th retry: 0.25 s, doubled each time, at most 5 s
/// (about 26 s over [`RETRIES`]).
async fn backoff(n: u32) {
    tokio::time::sleep(backoff_delay(n)).await;
}

fn backoff_delay(n: u32) -> std::time::Duration {
    std::time::Duration::from_millis((250u64 << n.saturating_sub(1).min(5)).min(5_000))
}

/// The ExecuteResponse of a finished operation.
fn operation_response(op: proto::Operation) -> Result<ExecuteResponse, RemoteError> {
    match op.result {
        Some(proto::operation::Result::Response(any)) => {
            ExecuteResponse::decode(any.value.as_slice()).map_err(|e| RemoteError::BadReply {
                call: "Execute",
                reason: format!("its ExecuteResponse does not decode: {e}"),
            })
        }
        Some(proto::operation::Result::Error(s)) => {
            RemoteError::check_status("Execute", Some(&s))?;
            Err(RemoteError::BadReply {
                call: "Execute",
                reason: "the operation failed with status OK".into(),
            })
        }
        None => Err(RemoteError::BadReply {
            call: "Execute",
            reason: "the operation is done without a result".into(),
        }),
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gone_server_is_given_up_within_half_a_minute_and_only_transient_codes_are_retried() {
        let total: std::time::Duration = (1..=RETRIES).map(backoff_delay).sum();
        assert!(total > std::time::Duration::from_secs(10), "{total:?}");
        assert!(total < std::time::Duration::from_secs(30), "{total:?}");
        assert!(transient(&tonic::Status::unavailable("max connection age")));
        assert!(transient(&tonic::Status::resource_exhausted(
            "Concurrent RPC limit exceeded!"
        )));
        assert!(!transient(&tonic::Status::not_found("no such operation")));
        assert!(!transient(&tonic::Status::invalid_argument("bad action")));
    }
}
