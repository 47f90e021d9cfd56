//! Uploads: what the server lacks, each blob once.
//!
//! Actions run side by side share much of their inputs (the closure of a
//! toolchain), and each asks FindMissingBlobs on its own: without care,
//! two actions both told a blob is missing would both send it. Each
//! digest has a flight ([`Uploads`]): one action sends it while the others
//! that need it wait, then go on without sending it again (or send it
//! themselves when that upload failed). At most `--remote-jobs` upload
//! calls are in flight at once.

use super::{CHUNK, Client, Stats};
use crate::RemoteError;
use crate::digest::Key;
use crate::input_root::Blobs;
use crate::proto::{
    self, BatchUpdateBlobsRequest, FindMissingBlobsRequest, byte_stream_client::ByteStreamClient,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{Mutex as Flight, OwnedMutexGuard, Semaphore, SemaphorePermit};

/// When a blob was last uploaded by this process, if it was.
type Uploaded = Option<Instant>;

/// The uploads of one process: a flight per digest, and the upload calls'
/// slots.
#[derive(Debug)]
pub struct Uploads {
    flights: Mutex<HashMap<Key, Arc<Flight<Uploaded>>>>,
    slots: Semaphore,
    /// Upload calls in flight now.
    in_flight: AtomicU64,
}

impl Uploads {
    /// At most `calls` upload calls at once.
    pub fn new(calls: usize) -> Uploads {
        Uploads {
            flights: Mutex::new(HashMap::new()),
            slots: Semaphore::new(calls.max(1)),
            in_flight: AtomicU64::new(0),
        }
    }

    fn flight(&self, key: &Key) -> Arc<Flight<Uploaded>> {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// A slot for one upload call, held while it runs.
    async fn slot<'a>(&'a self, stats: &Stats) -> Slot<'a> {
        // The semaphore is never closed.
        let permit = self.slots.acquire().await.ok();
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.uploads_at_once.fetch_max(now, Ordering::Relaxed);
        Slot {
            _permit: permit,
            in_flight: &self.in_flight,
        }
    }
}

struct Slot<'a> {
    _permit: Option<SemaphorePermit<'a>>,
    in_flight: &'a AtomicU64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Client {
    /// Uploads those of `blobs` the server lacks (one FindMissingBlobs
    /// call, then batches, and ByteStream for the big ones), none of them
    /// twice at once.
    pub async fn upload_missing(&self, blobs: &Blobs, stats: &Stats) -> Result<(), RemoteError> {
        let asked = Instant::now();
        let mut missing = Vec::new();
        let keys: Vec<&Key> = blobs.keys().collect();
        // FindMissingBlobs requests stay far below the message limit.
        for chunk in keys.chunks(20_000) {
            let reply = self
                .cas()
                .find_missing_blobs(FindMissingBlobsRequest {
                    instance_name: self.instance.clone(),
                    blob_digests: chunk.iter().map(|k| k.digest()).collect(),
                    digest_function: 0,
                })
                .await
                .map_err(RemoteError::call("FindMissingBlobs"))?
                .into_inner();
            missing.extend(reply.missing_blob_digests.iter().map(Key::from_digest));
        }
        // An upload finished after the question was asked answers it; one
        // before it did not keep the blob there (the server dropped it).
        let sent_since = |u: &Uploaded| u.is_some_and(|t| t >= asked);
        let mut mine = Vec::new();
        let mut theirs = Vec::new();
        for key in missing {
            let flight = self.uploads.flight(&key);
            match flight.clone().try_lock_owned() {
                Ok(guard) if sent_since(&guard) => {}
                Ok(guard) => mine.push((key, guard)),
                Err(_) => theirs.push((key, flight)),
            }
        }
        // Every flight of ours is let go before another is waited for: no
        // two actions wait on each other.
        self.send(blobs, mine, stats).await?;
        for (key, flight) in theirs {
            let guard = flight.lock_owned().await;
            if !sent_since(&guard) {
                self.send(blobs, vec![(key, guard)], stats).await?;
            }
        }
        Ok(())
    }

    /// Sends `keys` (their flights held), then marks them sent.
    async fn send(
        &self,
        blobs: &Blobs,
        mut keys: Vec<(Key, OwnedMutexGuard<Uploaded>)>,
        stats: &Stats,
    ) -> Result<(), RemoteError> {
        let mut batch: Vec<proto::batch_update_blobs_request::Request> = Vec::new();
        let mut batch_size = 0;
        for (key, _) in &keys {
            let blob = blobs.get(key).ok_or_else(|| RemoteError::BadReply {
                call: "FindMissingBlobs",
                reason: format!(
                    "it names {}/{}, which was not asked about",
                    key.hash, key.size
                ),
            })?;
            let data = blob.read(key)?;
            stats.blobs_uploaded.fetch_add(1, Ordering::Relaxed);
            stats
                .bytes_uploaded
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            if key.size > self.max_batch {
                self.write_stream(key, data, stats).await?;
                continue;
            }
            if batch_size + key.size > self.max_batch {
                self.send_batch(std::mem::take(&mut batch), stats).await?;
                batch_size = 0;
            }
            batch_size += key.size;
            batch.push(proto::batch_update_blobs_request::Request {
                digest: Some(key.digest()),
                data,
                compressor: 0,
            });
        }
        if !batch.is_empty() {
            self.send_batch(batch, stats).await?;
        }
        let now = Instant::now();
        for (_, guard) in &mut keys {
            **guard = Some(now);
        }
        Ok(())
    }

    async fn send_batch(
        &self,
        requests: Vec<proto::batch_update_blobs_request::Request>,
        stats: &Stats,
    ) -> Result<(), RemoteError> {
        let _slot = self.uploads.slot(stats).await;
        let reply = self
            .cas()
            .batch_update_blobs(BatchUpdateBlobsRequest {
                instance_name: self.instance.clone(),
                requests,
                digest_function: 0,
            })
            .await
            .map_err(RemoteError::call("BatchUpdateBlobs"))?
            .into_inner();
        for r in reply.responses {
            RemoteError::check_status("BatchUpdateBlobs", r.status.as_ref())?;
        }
        Ok(())
    }

    /// Uploads one blob through ByteStream.Write.
    async fn write_stream(
        &self,
        key: &Key,
        data: Vec<u8>,
        stats: &Stats,
    ) -> Result<(), RemoteError> {
        let _slot = self.uploads.slot(stats).await;
        let resource = format!(
            "{}uploads/{}/blobs/{}/{}",
            self.instance_prefix(),
            upload_id(key),
            key.hash,
            key.size
        );
        let mut requests = Vec::new();
        let mut offset = 0;
        loop {
            let end = (offset + CHUNK).min(data.len());
            requests.push(proto::WriteRequest {
                resource_name: if offset == 0 {
                    resource.clone()
                } else {
                    String::new()
                },
                write_offset: offset as i64,
                finish_write: end == data.len(),
                data: data[offset..end].to_vec(),
            });
            offset = end;
            if offset == data.len() {
                break;
            }
        }
        let reply = ByteStreamClient::new(self.channel.clone())
            .write(tokio_stream::iter(requests))
            .await
            .map_err(RemoteError::call("ByteStream.Write"))?
            .into_inner();
        if reply.committed_size != key.size {
            return Err(RemoteError::BadReply {
                call: "ByteStream.Write",
                reason: format!("{} bytes committed of {}", reply.committed_size, key.size),
            });
        }
        Ok(())
    }
}

/// A fresh name for an upload (ByteStream wants one per write).
fn upload_id(key: &Key) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = Key::of(format!("{}-{t}-{n}-{}", std::process::id(), key.hash).as_bytes()).hash;
    // A UUID's shape, as some servers insist on one.
    format!(
        "{}-{}-{}-{}-{}",
        &id[0..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..32]
    )
}
