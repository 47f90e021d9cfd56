//! The HTTP side: the explorer's routes behind `abovo-http`'s read-only
//! front (the one `abovo publish` has), on a tokio runtime.
//!
//! * The front ([`abovo_http`]) takes only `GET` and `HEAD`, refuses a
//!   request with a body (`413`) or a head larger than
//!   [`abovo_http::Limits::max_request_bytes`] (`431`), gives a client
//!   [`abovo_http::Limits::header_timeout`] to send it, and serves at most
//!   [`abovo_http::Limits::max_connections`] connections at once.
//! * At most [`Options::max_computing`] questions computed at once, on
//!   the blocking pool, never on a worker; at most [`Options::rate`] new
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
use abovo_http::{ResBody, accept_loop, refuse_unless_read_only, text, typed, without_body};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::sync::Semaphore;

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
        shell: Bytes::from(assets::shell(&opts.description, opts.against.as_deref())),
        loopback,
    });
    for q in opts.warm {
        let state = state.clone();
        runtime.spawn(async move {
            let Ok(_permit) = state.computing.acquire().await else {
                return;
            };
            let s = state.clone();
            // The answer is kept (or the refusal, said again on demand).
            let _ = tokio::task::spawn_blocking(move || s.answers.get(&q)).await;
        });
    }
    let served = runtime.block_on(accept_loop(
        listener,
        shutdown,
        opts.limits,
        "abovo serve",
        move |peer, req| {
            let state = state.clone();
            async move { respond(&state, peer, req).await }
        },
    ));
    // A question still computing (a warm-up) is not waited for: it
    // answers nobody once the server stops.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    served
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
        return without_body(r);
    }
    r
}

async fn answer(
    state: &Arc<State>,
    peer: SocketAddr,
    req: &Request<Incoming>,
) -> Response<ResBody> {
    if let Some(refused) = refuse_unless_read_only(req) {
        return refused;
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
