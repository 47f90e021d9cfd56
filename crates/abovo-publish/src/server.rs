//! The HTTP side: the substitute server's routes behind `abovo-http`'s
//! read-only front, on a tokio runtime.
//!
//! * The front ([`abovo_http`]) takes only `GET` and `HEAD`, refuses a
//!   request with a body (`413`) or a head larger than
//!   [`abovo_http::Limits::max_request_bytes`] (`431`), gives a client
//!   [`abovo_http::Limits::header_timeout`] to send it, and serves at most
//!   [`abovo_http::Limits::max_connections`] connections at once.
//! * Narinfos come from the [`Publisher`] (signed once, then kept); a store
//!   lookup or a signature is done on the blocking pool, never on a worker.
//! * A NAR is written by a blocking task ([`abovo_store::nar::dump_path`],
//!   through the compressor) into a bounded channel that the response body
//!   reads: memory stays bounded whatever the NAR's size, a client that
//!   goes away stops the writer, and an uncompressed NAR has its
//!   `Content-Length` (its `NarSize`), so a truncated one is detectable.
//!   A file that cannot be read half-way ends the response with an error,
//!   which closes the connection rather than sending a short body as if it
//!   were whole.

use crate::Publisher;
use crate::compression::{Compression, Method};
use crate::route::Route;
use abovo_http::{ResBody, accept_loop, full, refuse_unless_read_only, text, without_body};
use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method as HttpMethod, Request, Response, StatusCode};
use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Serves `publisher` on `listener` until `shutdown` completes, on a runtime
/// of its own (this call blocks).
pub fn serve(
    publisher: Arc<Publisher>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let opts = publisher.options().clone();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if opts.workers > 0 {
        builder.worker_threads(opts.workers);
    }
    let runtime = builder.enable_all().thread_name("abovo-publish").build()?;
    runtime.block_on(accept_loop(
        listener,
        shutdown,
        opts.limits,
        "abovo publish",
        move |_, req| answer(publisher.clone(), req),
    ))
}

/// The response to one request.
async fn answer(publisher: Arc<Publisher>, req: Request<Incoming>) -> Response<ResBody> {
    if let Some(refused) = refuse_unless_read_only(&req) {
        return refused;
    }
    let head = req.method() == HttpMethod::HEAD;
    let route = Route::parse(req.uri().path());
    let response = match route {
        Route::CacheInfo => {
            let mut r = text(StatusCode::OK, publisher.cache_info());
            set_type(&mut r, "text/x-nix-cache-info");
            r
        }
        Route::NarInfo { hash_part } => narinfo(&publisher, hash_part).await,
        Route::Nar { compression, path } => match publisher.method(compression) {
            None => text(
                StatusCode::NOT_FOUND,
                format!("this server does not offer {} NARs\n", compression.name()),
            ),
            Some(method) => {
                let p = publisher.clone();
                let found = blocking(move || p.catalogue().item(&path)).await;
                match found {
                    Ok(Some(item)) => nar(item.file, item.info.nar_size, method),
                    Ok(None) => text(StatusCode::NOT_FOUND, "no such store item\n"),
                    Err(e) => internal(&e),
                }
            }
        },
        Route::File { name, hash } => file(&publisher, name, hash).await,
        Route::NotFound(why) => text(StatusCode::NOT_FOUND, format!("{why}\n")),
    };
    if head {
        return without_body(response);
    }
    response
}

async fn narinfo(publisher: &Arc<Publisher>, hash_part: String) -> Response<ResBody> {
    // A narinfo already signed is answered here, without a task.
    let found = match publisher.cached_narinfo(&hash_part) {
        Some(t) => Ok(Some(t)),
        None => {
            let p = publisher.clone();
            blocking(move || p.narinfo(&hash_part)).await
        }
    };
    match found {
        Ok(Some(t)) => {
            let mut r = Response::new(full(Bytes::from(t.as_bytes().to_vec())));
            set_type(&mut r, "text/x-nix-narinfo");
            r
        }
        Ok(None) => text(StatusCode::NOT_FOUND, "no such store item\n"),
        Err(e) => internal(&e),
    }
}

async fn file(
    publisher: &Arc<Publisher>,
    name: String,
    hash: abovo_store::Hash,
) -> Response<ResBody> {
    let p = publisher.clone();
    let found = blocking(move || {
        let store = p.catalogue().store_dir();
        let path = store
            .make_fixed_output_path(&name, false, &hash)
            .map_err(|e| e.to_string())?;
        p.catalogue().item(&path)
    })
    .await;
    match found {
        Ok(Some(item)) => match std::fs::symlink_metadata(&item.file) {
            Ok(m) if m.is_file() => stream_file(item.file, m.len()),
            Ok(_) => text(
                StatusCode::NOT_FOUND,
                "that fixed output is not a single file\n",
            ),
            Err(e) => internal(&format!("cannot read the item: {e}")),
        },
        Ok(None) => text(StatusCode::NOT_FOUND, "no such file\n"),
        Err(e) => internal(&e),
    }
}

/// Runs `job` on the blocking pool.
async fn blocking<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(job)
        .await
        .unwrap_or_else(|e| Err(format!("internal error: {e}")))
}

/// The NAR of `file`, compressed with `method`, streamed.
fn nar(file: PathBuf, nar_size: u64, method: Method) -> Response<ResBody> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let sink = ChannelWriter::new(tx.clone());
        let written = method.encoder(sink).and_then(|mut enc| {
            abovo_store::nar::dump_path(&file, &mut enc).map_err(io::Error::other)?;
            enc.finish()?.finish()
        });
        if let Err(e) = written {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let mut r = Response::new(ChannelBody { rx }.boxed());
    set_type(&mut r, "application/x-nix-archive");
    if method.compression == Compression::None {
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(nar_size));
    }
    r
}

/// A regular file's bytes, streamed.
fn stream_file(file: PathBuf, len: u64) -> Response<ResBody> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let copied = std::fs::File::open(&file).and_then(|mut f| {
            let mut sink = ChannelWriter::new(tx.clone());
            io::copy(&mut f, &mut sink)?;
            sink.finish()
        });
        if let Err(e) = copied {
            let _ = tx.blocking_send(Err(e));
        }
    });
    let mut r = Response::new(ChannelBody { rx }.boxed());
    set_type(&mut r, "application/octet-stream");
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}

/// A writer that sends its bytes, in blocks, to a response body. Fails with
/// `BrokenPipe` once the body is gone (the client left).
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

const BLOCK: usize = 128 * 1024;

impl ChannelWriter {
    fn new(tx: mpsc::Sender<io::Result<Bytes>>) -> ChannelWriter {
        ChannelWriter {
            tx,
            buf: Vec::with_capacity(BLOCK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let block = std::mem::replace(&mut self.buf, Vec::with_capacity(BLOCK));
        self.tx
            .blocking_send(Ok(Bytes::from(block)))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    /// Sends what is left.
    fn finish(mut self) -> io::Result<()> {
        self.send()
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > BLOCK {
            self.send()?;
        }
        if data.len() >= BLOCK {
            self.tx
                .blocking_send(Ok(Bytes::copy_from_slice(data)))
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A body fed by a channel.
struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|m| m.map(|r| r.map(Frame::data)))
    }
}

fn internal(why: &str) -> Response<ResBody> {
    eprintln!("abovo publish: {why}");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the store could not be read (the server's log says why)\n",
    )
}

fn set_type(r: &mut Response<ResBody>, content_type: &'static str) {
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
}
