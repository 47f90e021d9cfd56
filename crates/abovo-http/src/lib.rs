//! The read-only HTTP/1.1 front that abovo's two servers share: `abovo
//! publish` (a substitute server) and `abovo serve` (the explorer).
//!
//! Both answer questions about a store or a graph and never change
//! anything, so both want the same front door, written once here:
//!
//! * [`accept_loop`] serves hyper's HTTP/1.1 on a tokio listener with at
//!   most [`Limits::max_connections`] connections at once (the others wait
//!   in the kernel's accept queue rather than being accepted and starved),
//!   [`Limits::header_timeout`] for a client to send its request head (which
//!   also ends idle keep-alive connections), and a request head of at most
//!   [`Limits::max_request_bytes`] (`431` beyond).
//! * [`refuse_unless_read_only`] answers `405` to any method but `GET` and
//!   `HEAD`, and `413` to a request that carries a body.
//! * [`without_body`] turns a `GET` answer into the `HEAD` answer.
//!
//! What a server answers is its own: this crate knows no route.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// A response body: whole bytes, or a stream that may fail half-way (a
/// failure closes the connection instead of sending a short body as if it
/// were whole).
pub type ResBody = BoxBody<Bytes, io::Error>;

/// How much one server lets its clients take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a client may take to send a request's head (and how long
    /// an idle keep-alive connection is kept).
    pub header_timeout: Duration,
    /// The largest request head accepted (request line and headers).
    pub max_request_bytes: usize,
}

/// Serves `listener` until `shutdown` completes, answering each request
/// with `handle(peer, request)`. `name` prefixes the one line written to
/// standard error when a connection cannot be accepted.
pub async fn accept_loop<F, Fut>(
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
    name: &'static str,
    handle: F,
) -> io::Result<()>
where
    F: Fn(SocketAddr, Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<ResBody>> + Send + 'static,
{
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let handle = Arc::new(handle);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Wait for a free slot first: beyond the limit, clients wait in
        // the accept queue instead of being accepted and starved.
        let permit = tokio::select! {
            () = &mut shutdown => return Ok(()),
            p = slots.clone().acquire_owned() => p.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it
                    // was accepted: pause, then carry on serving.
                    eprintln!("{name}: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let answer = handle(peer, req);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_request_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// The refusal of a request a read-only server does not take: a method
/// other than `GET` or `HEAD` (`405`, with `Allow`), or a body (`413`,
/// and the connection closed, since the body was not read).
pub fn refuse_unless_read_only<B>(req: &Request<B>) -> Option<Response<ResBody>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Some(r);
    }
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    if has_body {
        let mut r = text(
            StatusCode::PAYLOAD_TOO_LARGE,
            "requests carry no body here\n",
        );
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Some(r);
    }
    None
}

/// `bytes` as a whole body.
pub fn full(bytes: impl Into<Bytes>) -> ResBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response of `status` with `body` of type `content_type`.
pub fn typed(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &'static str,
) -> Response<ResBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A plain-text response.
pub fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<ResBody> {
    typed(status, body, "text/plain; charset=utf-8")
}

/// The answer to `HEAD`: the same status and headers, no body.
pub fn without_body(r: Response<ResBody>) -> Response<ResBody> {
    let (parts, _) = r.into_parts();
    Response::from_parts(parts, full(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/x");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn only_get_and_head_without_a_body_pass() {
        assert!(refuse_unless_read_only(&request(Method::GET, &[])).is_none());
        assert!(refuse_unless_read_only(&request(Method::HEAD, &[])).is_none());
        let empty = request(Method::GET, &[("content-length", "0")]);
        assert!(refuse_unless_read_only(&empty).is_none());

        let post = refuse_unless_read_only(&request(Method::POST, &[])).expect("refused");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(post.headers()[header::ALLOW], "GET, HEAD");

        for h in [("content-length", "5"), ("transfer-encoding", "chunked")] {
            let r = refuse_unless_read_only(&request(Method::GET, &[h])).expect("refused");
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{h:?}");
            assert_eq!(r.headers()[header::CONNECTION], "close");
        }
    }

    #[test]
    fn head_keeps_the_status_and_headers_but_not_the_body() {
        let r = without_body(typed(StatusCode::NOT_FOUND, "gone\n", "text/plain"));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/plain");
        let body = collect_now(r.into_body());
        assert!(body.is_empty());
    }

    /// The whole of a body that is ready at once.
    fn collect_now(body: ResBody) -> Bytes {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(body.collect())
            .expect("body")
            .to_bytes()
    }
}
