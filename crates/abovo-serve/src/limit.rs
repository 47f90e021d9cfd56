//! What bounds the server's work: a rate per client address, and the
//! answers kept so that a question is computed once.
//!
//! The graph is read-only while the server runs, so an answer never goes
//! stale: [`Answers`] keeps every answer (refusals too) until the bytes
//! or the number of answers kept pass their bound ([`MAX_KEPT`]), then
//! forgets them all and starts again. Clients
//! asking the same new question at once wait for one computation
//! (`OnceLock`), rather than each starting their own.

use crate::{Explorer, Question, Refusal};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

/// An answer: the JSON bytes, or why there is none.
pub type Answer = Result<Bytes, Refusal>;

type Cell = Arc<OnceLock<Answer>>;

/// The most answers kept (search texts are as many as clients type).
pub const MAX_KEPT: usize = 20_000;

/// The explorer's answers, kept.
pub struct Answers {
    explorer: Arc<dyn Explorer>,
    kept: Mutex<HashMap<Question, Cell>>,
    kept_bytes: AtomicUsize,
    max_bytes: usize,
}

impl Answers {
    /// Answers of `explorer`, keeping at most `max_bytes` of them.
    pub fn new(explorer: Arc<dyn Explorer>, max_bytes: usize) -> Answers {
        Answers {
            explorer,
            kept: Mutex::new(HashMap::new()),
            kept_bytes: AtomicUsize::new(0),
            max_bytes,
        }
    }

    /// The answer if it is kept already (this never computes, so it may
    /// run on an async worker).
    pub fn kept(&self, q: &Question) -> Option<Answer> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.get(q).and_then(|c| c.get().cloned())
    }

    /// The answer to `q`, computed now if it was not kept (this blocks).
    pub fn get(&self, q: &Question) -> Answer {
        if !q.cacheable() {
            return self.explorer.answer(q).map(Bytes::from);
        }
        // Kept answers are forgotten all at once past either bound.
        let cell = {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if self.kept_bytes.load(Ordering::Relaxed) > self.max_bytes || kept.len() >= MAX_KEPT {
                kept.clear();
                self.kept_bytes.store(0, Ordering::Relaxed);
            }
            kept.entry(q.clone()).or_default().clone()
        };
        cell.get_or_init(|| {
            let a = self.explorer.answer(q).map(Bytes::from);
            let size = a.as_ref().map_or(64, Bytes::len);
            self.kept_bytes.fetch_add(size, Ordering::Relaxed);
            a
        })
        .clone()
    }
}

/// A token bucket per client address: `rate` requests a second, with
/// bursts of as many.
pub struct RateLimit {
    rate: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimit {
    /// `rate` requests a second per address (`0`: no limit).
    pub fn new(rate: u32) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` may make one more request now.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Addresses that stopped asking are forgotten, so the map stays
        // bounded by the addresses of the last second or so.
        if buckets.len() > 10_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < 2.0);
        }
        let (tokens, at) = buckets.entry(ip).or_insert((self.rate, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.rate);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(AtomicUsize);
    impl Explorer for Counting {
        fn answer(&self, q: &Question) -> Result<Vec<u8>, Refusal> {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            match q {
                Question::Seeds(n) if n == "nothing" => Err(Refusal {
                    status: 404,
                    message: "unknown".into(),
                }),
                _ => Ok(b"{}".to_vec()),
            }
        }
    }

    #[test]
    fn one_computation_for_clients_asking_at_once() {
        let explorer = Arc::new(Counting(AtomicUsize::new(0)));
        let answers = Arc::new(Answers::new(explorer.clone(), 1 << 20));
        let q = Question::Seeds("hello".into());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (a, q) = (answers.clone(), q.clone());
                std::thread::spawn(move || a.get(&q))
            })
            .collect();
        for t in threads {
            assert_eq!(t.join().expect("no panic").expect("answered"), "{}");
        }
        assert_eq!(explorer.0.load(Ordering::SeqCst), 1);
        assert!(answers.kept(&q).is_some());
        // A refusal is kept too.
        let none = Question::Seeds("nothing".into());
        assert_eq!(answers.get(&none).map_err(|r| r.status), Err(404));
        assert!(answers.kept(&none).is_some());
        assert_eq!(explorer.0.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn forgets_past_the_bound() {
        let explorer = Arc::new(Counting(AtomicUsize::new(0)));
        let answers = Answers::new(explorer.clone(), 1);
        for n in ["a", "b", "c"] {
            answers.get(&Question::Seeds(n.into())).expect("answered");
        }
        assert!(answers.kept(&Question::Seeds("a".into())).is_none());
    }

    #[test]
    fn rate_per_address() {
        let limit = RateLimit::new(5);
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let allowed = (0..20).filter(|_| limit.allow(a)).count();
        assert!((5..=6).contains(&allowed), "{allowed}");
        assert!(limit.allow(b));
        assert!((0..100).all(|_| RateLimit::new(0).allow(a)));
    }
}
