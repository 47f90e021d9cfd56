//! Asking every server about every item: in parallel, each server at most
//! once per item, and a server that cannot be reached or stops answering
//! is given up for the rest of the run (after the client's own timeouts
//! and retries), so one bad server delays a run by one timeout, not one
//! per item, and the others are still asked.

use crate::verdict::{self, Answer, Found, Judged, Standing, Verdict};
use abovo_fetch::HttpClient;
use abovo_fetch::http::Failure;
use abovo_fetch::keys::{AuthorizedKeys, Refusal};
use abovo_fetch::substitute::{Lookup, Substituter};
use abovo_store::narinfo::NarInfo;
use serde::Serialize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One server's answer on one item, with the narinfo it served, once a
/// worker has asked.
type Slot = Mutex<Option<(Answer, Option<NarInfo>)>>;

/// What is asked, and of whom.
pub struct Challenger<'a> {
    /// The HTTP client (its timeouts and retries apply to every request).
    pub client: &'a HttpClient,
    /// The authorised keys.
    pub keys: &'a AuthorizedKeys,
    /// The servers' base URLs.
    pub servers: Vec<String>,
    /// Requests in flight at once.
    pub jobs: usize,
}

/// One item's answers and verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    /// The store path.
    pub path: String,
    /// The local store's `NarHash`, when it has the item.
    pub local: Option<String>,
    /// Each server's answer, in the order of [`Report::servers`].
    pub answers: Vec<Answer>,
    /// The verdict, signers and groups.
    #[serde(flatten)]
    pub judged: Judged,
    /// The narinfos that were found (for `--diff`), by server position.
    #[serde(skip)]
    pub narinfos: Vec<Option<NarInfo>>,
}

/// A server's part in the run.
#[derive(Debug, Clone, Serialize)]
pub struct ServerReport {
    /// Its base URL.
    pub url: String,
    /// Why it was given up, if it was.
    pub gave_up: Option<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The servers.
    pub servers: Vec<ServerReport>,
    /// Every item, in the order asked.
    pub items: Vec<ItemReport>,
}

impl Report {
    /// How many items got each verdict, in [`Verdict::ALL`]'s order.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        Verdict::ALL
            .iter()
            .map(|&v| {
                (
                    v,
                    self.items.iter().filter(|i| i.judged.verdict == v).count(),
                )
            })
            .collect()
    }

    /// The items that fail `--require k`.
    pub fn below(&self, k: usize) -> Vec<&ItemReport> {
        self.items
            .iter()
            .filter(|i| !verdict::meets(&i.judged, k))
            .collect()
    }
}

impl Challenger<'_> {
    /// Asks every server about each of `items` (absolute store paths);
    /// `local` gives the local store's `NarHash` of an item, `tick` is
    /// called once per item answered by every server.
    pub fn run(
        &self,
        items: &[String],
        local: &(dyn Fn(&str) -> Option<String> + Sync),
        tick: &(dyn Fn() + Sync),
    ) -> Report {
        let n = self.servers.len();
        let substituter = Substituter {
            client: self.client,
            keys: self.keys,
            allow_untrusted: true,
        };
        let gave_up: Vec<Mutex<Option<String>>> = (0..n).map(|_| Mutex::new(None)).collect();
        let slots: Vec<Slot> = (0..items.len() * n).map(|_| Mutex::new(None)).collect();
        let remaining: Vec<AtomicUsize> = items.iter().map(|_| AtomicUsize::new(n)).collect();
        let next = AtomicUsize::new(0);
        let worker = || {
            loop {
                let task = next.fetch_add(1, Ordering::Relaxed);
                if task >= slots.len() {
                    return;
                }
                let (item, server) = (task / n, task % n);
                let answer = self.ask(&substituter, &gave_up[server], server, &items[item]);
                *lock(&slots[task]) = Some(answer);
                if remaining[item].fetch_sub(1, Ordering::AcqRel) == 1 {
                    tick();
                }
            }
        };
        let threads = self.jobs.clamp(1, 64).min(slots.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(worker);
            }
        });
        if n == 0 {
            for _ in items {
                tick();
            }
        }
        let mut slots = slots
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()));
        let items = items
            .iter()
            .map(|path| {
                let mut answers = Vec::with_capacity(n);
                let mut narinfos = Vec::with_capacity(n);
                for _ in 0..n {
                    let (a, info) = slots.next().flatten().unwrap_or((
                        Answer::Failed {
                            error: "not asked".into(),
                        },
                        None,
                    ));
                    answers.push(a);
                    narinfos.push(info);
                }
                let local = local(path);
                let judged = verdict::judge(local.as_deref(), &answers);
                ItemReport {
                    path: path.clone(),
                    local,
                    answers,
                    judged,
                    narinfos,
                }
            })
            .collect();
        Report {
            servers: self
                .servers
                .iter()
                .zip(gave_up)
                .map(|(url, g)| ServerReport {
                    url: url.clone(),
                    gave_up: g.into_inner().unwrap_or_else(|p| p.into_inner()),
                })
                .collect(),
            items,
        }
    }

    fn ask(
        &self,
        substituter: &Substituter<'_>,
        gave_up: &Mutex<Option<String>>,
        server: usize,
        path: &str,
    ) -> (Answer, Option<NarInfo>) {
        if let Some(why) = lock(gave_up).clone() {
            return (
                Answer::Failed {
                    error: format!("not asked: the server was given up earlier ({why})"),
                },
                None,
            );
        }
        let url = &self.servers[server];
        match substituter.narinfo(url, path) {
            Ok(Lookup::Missing) => (Answer::Missing, None),
            Ok(Lookup::Found(accepted)) => {
                let info = accepted.info;
                let standing = match accepted.signer {
                    Ok(signer) => Standing::Trusted { signer },
                    Err(Refusal::Unsigned) => Standing::Unsigned,
                    Err(e) => Standing::Untrusted { why: e.to_string() },
                };
                let found = Found {
                    nar_hash: info.nar_hash.to_string(),
                    nar_size: info.nar_size,
                    standing,
                };
                (Answer::Found(found), Some(info))
            }
            Err(failure) => {
                // A server that cannot be reached, stalls or answers 5xx
                // after the retries is given up; a refused narinfo only
                // fails this item.
                if matches!(failure, Failure::Transient(_) | Failure::Fatal(_)) {
                    let mut g = lock(gave_up);
                    if g.is_none() {
                        *g = Some(failure.message().to_owned());
                    }
                }
                (
                    Answer::Failed {
                        error: failure.into_message(),
                    },
                    None,
                )
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
