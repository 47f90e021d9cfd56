//! The HTTP side: hyper's HTTP/1.1 server on a tokio runtime, as `abovo
//! publish` runs it.
//!
//! * Only `GET` and `HEAD`; a request that carries a body is refused
//!   (`413`), a request head larger than [`Options::max_request_bytes`]
//!   gets `431`, and a client has [`Options::header_timeout`] to send it.
//! * At most [`Options::max_connections`] connections at once; at most
//!   [`Options::max_computing`] questions computed at once, on the
//!   blocking pool, never on a worker; at most [`Options::rate`] new
//!   questions a second per client address (`429` with `Retry-After`
//!   beyond). An answer kept already costs a lookup and a copy of a
//!   reference, so those are bounded by the connections alone.
//! * On a loopback address, only requests whose `Host` names the loopback
//!   are answered (`421` otherwise): a web page elsewhere cannot read the
//!   explorer through a DNS name rebound to 127.0.0.1.
//! * Every response says `Content-Security-Policy: default-src 'self'`
//!   (no inline script, nothing from elsewhere) and `nosniff`.

use crate::limit::{Answers, RateLimit};
use crate::route::{Question, Route};
use crate::{Explorer, Options, Refusal, assets, escape};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::Semaphore;

type ResBody = BoxBody<Bytes, Infallible>;

/// Everything a request needs.
struct State {
    answers: Answers,
    limit: RateLimit,
    computing: Semaphore,
    shell: Bytes,
    loopback: bool,
}

/// Serves `explorer` on `listener` until `shutdown` completes, on a
/// runtime of its own (this call blocks).
pub fn serve(
    explorer: Arc<dyn Explorer>,
    opts: Options,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if opts.workers > 0 {
        builder.worker_threads(opts.workers);
    }
    let runtime = builder.enable_all().thread_name("abovo-serve").build()?;
    let loopback = listener.local_addr()?.ip().is_loopback();
    let state = Arc::new(State {
        answers: Answers::new(explorer, opts.max_kept_bytes),
        limit: RateLimit::new(opts.rate),
        computing: Semaphore::new(opts.max_computing.max(1)),
        shell: Bytes::from(assets::shell(&opts.description)),
        loopback,
    });
    runtime.block_on(accept_loop(state, listener, shutdown, opts))
}

async fn accept_loop(
    state: Arc<State>,
    listener: std::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    opts: Options,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(Semaphore::new(opts.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => return Ok(()),
            p = slots.clone().acquire_owned() => p.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("abovo serve: cannot accept a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let opts = opts.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(respond(&state, peer, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(opts.header_timeout)
                .max_buf_size(opts.max_request_bytes.max(8192))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// The response to one request, with the headers every response has.
async fn respond(
    state: &Arc<State>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Response<ResBody> {
    let head = req.method() == Method::HEAD;
    let mut r = answer(state, peer, &req).await;
    let h = r.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if head {
        let (parts, _) = r.into_parts();
        return Response::from_parts(parts, full(Bytes::new()));
    }
    r
}

async fn answer(
    state: &Arc<State>,
    peer: SocketAddr,
    req: &Request<Incoming>,
) -> Response<ResBody> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
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
        return r;
    }
    if state.loopback && !loopback_host(req.headers().get(header::HOST)) {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "this explorer listens on the loopback and answers only to localhost, 127.0.0.1 or [::1]\n",
        );
    }
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    match Route::parse(target) {
        Route::Page => typed(
            StatusCode::OK,
            state.shell.clone(),
            "text/html; charset=utf-8",
        ),
        Route::Asset(name) => match assets::asset(name) {
            Some((bytes, kind)) => typed(StatusCode::OK, Bytes::from_static(bytes), kind),
            None => text(StatusCode::NOT_FOUND, "no such asset\n"),
        },
        Route::Api(q) => api(state, peer, q).await,
        Route::Bad(why) => refused(target, StatusCode::BAD_REQUEST, &why),
        Route::NotFound(why) => refused(target, StatusCode::NOT_FOUND, &why),
    }
}

/// Whether a `Host` header names the loopback (any port).
fn loopback_host(host: Option<&HeaderValue>) -> bool {
    let Some(host) = host.and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn api(state: &Arc<State>, peer: SocketAddr, q: Question) -> Response<ResBody> {
    let found = match state.answers.kept(&q) {
        Some(a) => a,
        None => {
            // Only a new question costs: each client address may ask so
            // many a second.
            if !state.limit.allow(peer.ip()) {
                let mut r = text(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too many new questions; slow down\n",
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                return r;
            }
            let Ok(_permit) = state.computing.acquire().await else {
                return text(StatusCode::SERVICE_UNAVAILABLE, "shutting down\n");
            };
            let s = state.clone();
            tokio::task::spawn_blocking(move || s.answers.get(&q))
                .await
                .unwrap_or_else(|e| {
                    Err(Refusal {
                        status: 500,
                        message: format!("internal error: {e}"),
                    })
                })
        }
    };
    match found {
        Ok(json) => typed(StatusCode::OK, json, "application/json"),
        Err(r) => {
            let status =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = format!("{{\"error\": {}}}\n", escape::json_string(&r.message));
            typed(status, Bytes::from(body), "application/json")
        }
    }
}

/// A refused page or path: the reason, escaped, in a small HTML page.
fn refused(target: &str, status: StatusCode, why: &str) -> Response<ResBody> {
    let shown: String = target.chars().take(200).collect();
    let body = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — abovo</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><main><h1>{}</h1>\
         <p>{}</p><p class=\"sub\">Asked: <code>{}</code></p><p><a href=\"/\">Search</a></p></main></body></html>\n",
        status.as_u16(),
        escape::html(status.canonical_reason().unwrap_or("refused")),
        escape::html(why),
        escape::html(&shown),
    );
    typed(status, Bytes::from(body), "text/html; charset=utf-8")
}

fn full(bytes: Bytes) -> ResBody {
    Full::new(bytes).boxed()
}

fn typed(status: StatusCode, body: Bytes, content_type: &'static str) -> Response<ResBody> {
    let mut r = Response::new(full(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<ResBody> {
    typed(
        status,
        Bytes::from_static(body.as_bytes()),
        "text/plain; charset=utf-8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let ok = |h: &str| loopback_host(Some(&HeaderValue::from_str(h).expect("header")));
        assert!(ok("localhost:8080") && ok("127.0.0.1:1") && ok("[::1]:80") && ok("localhost"));
        assert!(!ok("evil.example:8080") && !ok("127.0.0.1.evil.example") && !ok("[::2]:80"));
        assert!(!loopback_host(None));
    }
}
