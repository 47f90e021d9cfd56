//! Chunks of a large answer rendered on several threads and handed, in
//! order, to the one thread that writes them ([`render_in_order`]).
//!
//! Every thread takes the next chunk not yet taken; the writer writes the
//! chunk it is at as soon as it is finished, and renders chunks itself
//! while it waits for one. No thread waits for another while there is a
//! chunk to take: on this kind of two-core virtual machine, a thread that
//! sleeps until another wakes it tends to be woken on its waker's core
//! (the idle one looks taken to the scheduler) and the two then share one
//! core for milliseconds. Handing each chunk over through a channel of
//! one did that in about half the runs of `seeds python-pytorch --format
//! json`, and took its 85 chunks from 5 ms to 10–15 ms. For the same
//! reason a helper starts on another core than the writer's
//! ([`leave_core`]).
//!
//! Threads take chunks at most a few ahead of the one being written
//! ([`AHEAD`]), and buffers are used again from chunk to chunk: the memory
//! stays at a few chunks whatever the size of the answer.

use std::io;
use std::sync::{Condvar, Mutex, MutexGuard};

/// Room a chunk's buffer starts with: a chunk of nodes or edges of a
/// derivation graph takes about 120 KiB, and a buffer grown to that by
/// doubling would touch (and fault in) twice the memory.
const CHUNK_BYTES: usize = 160 << 10;

/// The most threads that render an answer: it is written by one thread,
/// which two or three others keep busy.
const MAX_THREADS: usize = 4;

/// How an answer's items are cut into chunks and shared out between
/// threads (by `render_in_order`).
#[derive(Debug, Clone, Copy)]
pub struct Chunking {
    /// Items in a chunk.
    pub per_chunk: usize,
    /// The fewest items rendered on several threads: the chunks of fewer
    /// are rendered one after the other on the calling thread (a thread
    /// started costs more than a few chunks take).
    pub parallel_from: usize,
}

impl Chunking {
    /// The threads that render `items` items: this one alone below
    /// [`Chunking::parallel_from`], else one per core (at most four).
    pub(crate) fn threads(&self, items: usize) -> usize {
        if items < self.parallel_from {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
        }
    }
}

/// How many chunks each thread may take beyond the one being written.
/// Enough that a helper seldom finds none to take (it then sleeps, see the
/// module docs), few enough to keep the memory to a few chunks.
const AHEAD: usize = 4;

/// What the threads share, under one lock: taken once or twice a chunk.
struct State {
    /// The next chunk to take.
    next: usize,
    /// How many chunks are written.
    written: usize,
    /// Chunks finished and not yet written, by index.
    finished: Vec<Option<io::Result<Vec<u8>>>>,
    /// Buffers written, to use again.
    spare: Vec<Vec<u8>>,
    /// Helpers waiting for room to take a chunk.
    waiting: usize,
    /// Set when the writer is done (or failed), or a helper stopped
    /// without finishing its chunk: every thread stops taking chunks.
    stopped: bool,
    /// Set when a helper stopped without finishing its chunk.
    lost: bool,
}

/// The shared state and the two ways of waiting on it.
struct Shared {
    state: Mutex<State>,
    /// The writer waits here for the chunk it is at.
    finished: Condvar,
    /// Helpers wait here for room ([`AHEAD`]).
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A thread that panicked under the lock leaves nothing half done
        // in it (every change is one assignment), so the state is usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Renders `items` `per_chunk` at a time with `render` on `threads`
/// threads (this one and `threads - 1` helpers) and hands each chunk, in
/// order, to `write`, on this thread (see the module docs).
pub(crate) fn render_in_order<T: Sync>(
    items: &[T],
    per_chunk: usize,
    threads: usize,
    render: &(impl Fn(&mut Vec<u8>, &[T]) -> io::Result<()> + Sync),
    mut write: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<()> {
    let chunks: Vec<&[T]> = items.chunks(per_chunk.max(1)).collect();
    let helpers = threads.min(chunks.len()).saturating_sub(1);
    let window = AHEAD * (helpers + 1);
    let shared = Shared {
        state: Mutex::new(State {
            next: 0,
            written: 0,
            finished: (0..chunks.len()).map(|_| None).collect(),
            spare: Vec::new(),
            waiting: 0,
            stopped: false,
            lost: false,
        }),
        finished: Condvar::new(),
        room: Condvar::new(),
    };
    let writer_core = current_core();
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            let (shared, chunks) = (&shared, &chunks);
            scope.spawn(move || {
                leave_core(writer_core);
                help(shared, chunks, window, render);
            });
        }
        // Whatever way the writer leaves, the helpers stop.
        let _stop = Stop(&shared);
        let mut own = Vec::with_capacity(CHUNK_BYTES);
        let mut state = shared.lock();
        while state.written < chunks.len() {
            let at = state.written;
            if let Some(rendered) = state.finished[at].take() {
                drop(state);
                let buffer = rendered?;
                write(&buffer)?;
                state = shared.lock();
                state.spare.push(buffer);
                advance(&shared, &mut state);
            } else if state.next < chunks.len() && state.next < at + window {
                let i = state.next;
                state.next += 1;
                if i == at {
                    // The chunk to write next: rendered and written at once.
                    drop(state);
                    own.clear();
                    render(&mut own, chunks[i])?;
                    write(&own)?;
                    state = shared.lock();
                    advance(&shared, &mut state);
                } else {
                    let spare = state.spare.pop();
                    drop(state);
                    let rendered = render_into(spare, render, chunks[i]);
                    state = shared.lock();
                    state.finished[i] = Some(rendered);
                }
            } else if state.lost {
                return Err(io::Error::other("a thread rendering the answer stopped"));
            } else {
                // A helper is rendering the chunk to write next.
                state = shared
                    .finished
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        Ok(())
    })
}

/// `chunk` rendered into a buffer to hand over: a `spare` one used again,
/// or a new one.
fn render_into<T>(
    spare: Option<Vec<u8>>,
    render: &impl Fn(&mut Vec<u8>, &[T]) -> io::Result<()>,
    chunk: &[T],
) -> io::Result<Vec<u8>> {
    let mut buffer = spare.unwrap_or_default();
    buffer.clear();
    buffer.reserve(CHUNK_BYTES);
    render(&mut buffer, chunk).map(|()| buffer)
}

/// One chunk more is written: helpers waiting for room may take one.
fn advance(shared: &Shared, state: &mut State) {
    state.written += 1;
    if state.waiting > 0 {
        shared.room.notify_all();
    }
}

/// A helper's loop: takes the next chunk while there is one within the
/// window, renders it and leaves it for the writer.
fn help<T: Sync>(
    shared: &Shared,
    chunks: &[&[T]],
    window: usize,
    render: &(impl Fn(&mut Vec<u8>, &[T]) -> io::Result<()> + Sync),
) {
    // A helper that stops holding a chunk (a panic in `render`) tells the
    // writer, which would otherwise wait for that chunk for ever.
    let mut holding = Holding(shared, false);
    let mut state = shared.lock();
    loop {
        if state.stopped || state.next >= chunks.len() {
            return;
        }
        if state.next >= state.written + window {
            state.waiting += 1;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            state.waiting -= 1;
            continue;
        }
        let i = state.next;
        state.next += 1;
        let spare = state.spare.pop();
        holding.1 = true;
        drop(state);
        let rendered = render_into(spare, render, chunks[i]);
        state = shared.lock();
        holding.1 = false;
        state.finished[i] = Some(rendered);
        if i == state.written {
            shared.finished.notify_one();
        }
    }
}

/// Stops the helpers when the writer leaves.
struct Stop<'s>(&'s Shared);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.room.notify_all();
    }
}

/// Whether a helper holds a chunk; dropped holding one, it tells the
/// writer the chunk is lost.
struct Holding<'s>(&'s Shared, bool);

impl Drop for Holding<'_> {
    fn drop(&mut self) {
        if self.1 {
            let mut state = self.0.lock();
            state.lost = true;
            state.stopped = true;
            self.0.finished.notify_one();
        }
    }
}

/// The core this thread runs on, when the system says.
fn current_core() -> Option<usize> {
    #[cfg(target_os = "linux")]
    return Some(rustix::thread::sched_getcpu());
    #[cfg(not(target_os = "linux"))]
    return None;
}

/// Moves this thread to another core than `core`, then lets it run
/// anywhere again: a thread starts on its parent's core, and on a virtual
/// machine the scheduler may leave it there, beside the writer, while the
/// other core idles (see the module docs). Only a hint: where affinity
/// cannot be set, or there is one core, nothing happens.
fn leave_core(core: Option<usize>) {
    #[cfg(target_os = "linux")]
    if let (Some(core), Ok(all)) = (core, rustix::thread::sched_getaffinity(None)) {
        let mut elsewhere = all;
        elsewhere.unset(core);
        if elsewhere.count() > 0 && rustix::thread::sched_setaffinity(None, &elsewhere).is_ok() {
            // Running elsewhere now; free to move again.
            let _ = rustix::thread::sched_setaffinity(None, &all);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = core;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests: a panic is the failure report
mod tests {
    use super::*;

    fn render(out: &mut Vec<u8>, chunk: &[u32]) -> io::Result<()> {
        for x in chunk {
            out.extend_from_slice(format!("{x},").as_bytes());
        }
        Ok(())
    }

    /// Every chunk is written once, in order, whatever the number of
    /// threads and chunks (more threads than chunks, one chunk, none).
    #[test]
    fn chunks_are_written_in_order() {
        for n in [0, 1, 7, 64, 1000, 4321] {
            let items: Vec<u32> = (0..n).collect();
            let expected: String = items.iter().map(|x| format!("{x},")).collect();
            for threads in [1, 2, 3, 8] {
                for per_chunk in [1, 3, 100] {
                    let mut out = Vec::new();
                    let mut writes = 0;
                    render_in_order(&items, per_chunk, threads, &render, |chunk| {
                        writes += 1;
                        out.extend_from_slice(chunk);
                        Ok(())
                    })
                    .unwrap();
                    assert_eq!(String::from_utf8(out).unwrap(), expected);
                    assert_eq!(writes, (n as usize).div_ceil(per_chunk));
                }
            }
        }
    }

    /// A chunk that fails to render, or a write that fails, ends the
    /// whole with that error, and every helper stops.
    #[test]
    fn errors_stop_every_thread() {
        let items: Vec<u32> = (0..500).collect();
        for bad in [0, 1, 37, 499] {
            let failing = |out: &mut Vec<u8>, chunk: &[u32]| {
                if chunk.contains(&bad) {
                    return Err(io::Error::other(format!("bad {bad}")));
                }
                render(out, chunk)
            };
            let mut written = Vec::new();
            let e = render_in_order(&items, 10, 3, &failing, |chunk| {
                written.extend_from_slice(chunk);
                Ok(())
            })
            .unwrap_err();
            assert_eq!(e.to_string(), format!("bad {bad}"));
            // Only the chunks before the bad one were written.
            let before: String = (0..bad / 10 * 10).map(|x| format!("{x},")).collect();
            assert_eq!(String::from_utf8(written).unwrap(), before);
        }
        let mut writes = 0;
        let e = render_in_order(&items, 10, 3, &render, |_| {
            writes += 1;
            if writes == 5 {
                return Err(io::Error::other("disk full"));
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(writes, 5);
    }

    /// A helper that panics mid-chunk makes the writer fail instead of
    /// waiting for that chunk for ever (the panic itself then reaches the
    /// caller through the scope).
    #[test]
    fn a_helper_lost_mid_chunk_is_an_error_not_a_hang() {
        let items: Vec<u32> = (0..200).collect();
        let writer = std::thread::current().id();
        // The writer's first chunk waits for the helper to take one, so
        // that it cannot write them all itself first.
        let helper_took = std::sync::atomic::AtomicBool::new(false);
        let panicking = |out: &mut Vec<u8>, chunk: &[u32]| {
            if std::thread::current().id() != writer {
                helper_took.store(true, std::sync::atomic::Ordering::SeqCst);
                panic!("helper lost");
            }
            while !helper_took.load(std::sync::atomic::Ordering::SeqCst) {
                std::thread::yield_now();
            }
            render(out, chunk)
        };
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render_in_order(&items, 1, 2, &panicking, |_| Ok(()))
        }));
        // Either the scope re-raised the helper's panic, or the writer
        // saw the chunk lost first: never a hang, never a success.
        assert!(!matches!(outcome, Ok(Ok(()))));
    }
}
