//! Client memory per idle session: live heap bytes (counted by this binary's global
//! allocator) held by the library for each session with one echotest handle, and what is
//! left once they are all dropped.
//!
//! The counting is switched on only for this measurement, so the timed runs pay one relaxed
//! load per allocation and nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the counter is only
// arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Live bytes allocated (and not freed) since counting was switched on. Frees of blocks
/// allocated before are subtracted too, so only differences between two readings mean
/// anything.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// What [`measure`] found.
pub struct Memory {
    pub sessions: usize,
    /// Client heap bytes per idle session with one handle.
    pub bytes_per_session: f64,
    /// Client heap bytes per session still held after every session was dropped and the
    /// client reported none left.
    pub leftover_per_session: f64,
}

/// Creates `n` sessions with an echotest handle each through `client` (64 at a time), and
/// measures the heap they hold; then drops them all.
pub async fn measure(client: &janus_client::Client, n: usize) -> Result<Memory, String> {
    COUNTING.store(true, Ordering::Relaxed);
    // Let the runtime's own buffers reach their working size first.
    let warm = open(client, 64).await?;
    drop(warm);
    settle(client).await?;
    let before = live();
    let held = open(client, n).await?;
    // The last answers may still be on their way through the connection task's buffers.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let with = live();
    drop(held);
    settle(client).await?;
    // The connection task gives back the room its maps grew to on its next sweep (about a
    // second): what is still held after that is what sessions leave behind.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after = live();
    COUNTING.store(false, Ordering::Relaxed);
    let per = |bytes: isize| bytes as f64 / n.max(1) as f64;
    Ok(Memory {
        sessions: n,
        bytes_per_session: per(with - before),
        leftover_per_session: per(after - before),
    })
}

async fn open(
    client: &janus_client::Client,
    n: usize,
) -> Result<Vec<(janus_client::Session, janus_client::Handle)>, String> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    stream::iter(0..n)
        .map(|_| async {
            let s = client
                .create_session()
                .await
                .map_err(|e| format!("create: {e}"))?;
            let h = s
                .attach("janus.plugin.echotest")
                .await
                .map_err(|e| format!("attach: {e}"))?;
            Ok::<_, String>((s, h))
        })
        .buffer_unordered(64)
        .try_collect()
        .await
}

/// Waits until the client holds no session (every drop destroyed on the server).
async fn settle(client: &janus_client::Client) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let s = client.stats();
        if s.sessions == 0 && s.handles == 0 && s.pending_transactions == 0 {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            return Err(format!("sessions still held after 60 s: {s:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
