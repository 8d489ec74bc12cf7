//! A tiny persistent thread team for the f32 kernels: `run(parts, f)` calls `f(i)` once for
//! every `i` in `0..parts`, on the caller and on helper threads, and returns when all are done.
//!
//! Parts are claimed from a shared ticket, so the caller runs every part nobody else has
//! claimed: when a helper is slow to wake (a busy machine), the caller does not wait for it.
//! Nothing allocates after the helpers exist (a job is a pointer to the caller's closure,
//! published through atomics and a futex-backed condvar), so a training step stays
//! allocation-free. Helpers spin briefly for the next job before they sleep, which keeps the
//! hand-off cheap between the back-to-back products of one step.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

type Job = dyn Fn(usize) + Sync;

struct Team {
    helpers: usize,
    /// `generation << 32 | next unclaimed part`.
    ticket: AtomicU64,
    /// Parts of the current job.
    parts: AtomicUsize,
    /// Parts finished.
    done: AtomicUsize,
    /// The published job: a fat pointer to the caller's closure. Only dereferenced by a thread
    /// that claimed a part, and the caller waits for every claimed part before returning.
    job: Mutex<Option<JobPtr>>,
    wake: Condvar,
    /// Held by the one caller whose job is in flight; other callers run serially.
    busy: AtomicBool,
}

#[derive(Clone, Copy)]
struct JobPtr(*const Job);
// SAFETY: the pointee is `Sync` and outlives its use (see `Team::job`).
unsafe impl Send for JobPtr {}

static TEAM: OnceLock<Team> = OnceLock::new();
/// Helpers that have made their packing buffers (the last thing a helper allocates).
static READY: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IS_HELPER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long a helper keeps polling for a next job before it sleeps on the condvar.
const SPIN: Duration = Duration::from_micros(300);
const INDEX: u64 = 0xffff_ffff;

fn team(threads: usize) -> &'static Team {
    let team = TEAM.get_or_init(|| {
        let helpers = threads.saturating_sub(1);
        for id in 1..=helpers {
            std::thread::Builder::new()
                .name(format!("nabla-gemm-{id}"))
                .spawn(helper)
                .expect("spawning a nabla gemm helper thread");
        }
        Team {
            helpers,
            ticket: AtomicU64::new(0),
            parts: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            job: Mutex::new(None),
            wake: Condvar::new(),
            busy: AtomicBool::new(false),
        }
    });
    // The first caller waits for every helper to have made its buffers, so that nothing of the
    // team allocates from then on however late a busy machine starts a helper: a training step
    // after the first allocates nothing.
    while READY.load(Ordering::Acquire) < team.helpers {
        std::thread::yield_now();
    }
    team
}

/// Claim and run parts of generation `gen` until none is left.
fn work<'a>(team: &Team, gen: u64, job: Option<&'a (dyn Fn(usize) + Sync + 'a)>) {
    let mut job = job;
    loop {
        let t = team.ticket.load(Ordering::Acquire);
        let index = (t & INDEX) as usize;
        if t >> 32 != gen || index >= team.parts.load(Ordering::Acquire) {
            return;
        }
        if team
            .ticket
            .compare_exchange_weak(t, t + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            continue;
        }
        let f = match job {
            Some(f) => f,
            None => {
                let Some(JobPtr(p)) = *team.job.lock().unwrap_or_else(|e| e.into_inner()) else {
                    return;
                };
                // SAFETY: a part is claimed, so the caller is still waiting (see Team::job).
                let f: &Job = unsafe { &*p };
                job = Some(f);
                f
            }
        };
        f(index);
        team.done.fetch_add(1, Ordering::AcqRel);
    }
}

fn helper() {
    IS_HELPER.with(|h| h.set(true));
    super::sgemm::reserve_buffers();
    READY.fetch_add(1, Ordering::Release);
    let team = loop {
        if let Some(t) = TEAM.get() {
            break t;
        }
        std::thread::yield_now();
    };
    let mut seen = 0u64;
    loop {
        let start = Instant::now();
        let mut gen = team.ticket.load(Ordering::Acquire) >> 32;
        let mut polls = 0u32;
        while gen == seen && (polls & 255 != 0 || start.elapsed() < SPIN) {
            std::hint::spin_loop();
            polls = polls.wrapping_add(1);
            gen = team.ticket.load(Ordering::Acquire) >> 32;
        }
        if gen == seen {
            let mut guard = team.job.lock().unwrap_or_else(|e| e.into_inner());
            while team.ticket.load(Ordering::Acquire) >> 32 == seen {
                guard = team.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            gen = team.ticket.load(Ordering::Acquire) >> 32;
        }
        seen = gen;
        work(team, gen, None);
    }
}

/// Run `f(i)` for every `i` in `0..parts`, spread over up to `threads` threads (the caller
/// included). Runs everything on the caller when called from a helper, when `threads` is 1, or
/// while another caller's job is in flight.
pub(crate) fn run(threads: usize, parts: usize, f: &(dyn Fn(usize) + Sync + '_)) {
    if threads <= 1 || parts <= 1 || IS_HELPER.with(|h| h.get()) {
        (0..parts).for_each(f);
        return;
    }
    let team = team(threads);
    if team.helpers == 0
        || team
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
    {
        (0..parts).for_each(f);
        return;
    }
    let gen = {
        let mut guard = team.job.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lifetime is erased only while this call waits for every claimed part.
        let ptr: *const Job =
            unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync + '_), &'static Job>(f) };
        *guard = Some(JobPtr(ptr));
        team.parts.store(parts, Ordering::Release);
        team.done.store(0, Ordering::Release);
        let gen = (team.ticket.load(Ordering::Acquire) >> 32) + 1;
        team.ticket.store(gen << 32, Ordering::Release);
        team.wake.notify_all();
        gen
    };
    // Waits for every claimed part even if `f` panics here, so `f` outlives its use.
    let _finish = Finish { team, parts };
    work(team, gen, Some(f));
}

struct Finish {
    team: &'static Team,
    parts: usize,
}

impl Drop for Finish {
    fn drop(&mut self) {
        let team = self.team;
        // Close the job: no helper may claim a part after this.
        let claimed =
            ((team.ticket.fetch_or(INDEX, Ordering::AcqRel) & INDEX) as usize).min(self.parts);
        // After a panic in a part on this thread, that part never counts as done.
        let expected = if std::thread::panicking() {
            claimed.saturating_sub(1)
        } else {
            claimed
        };
        let claimed_unfinished = || team.done.load(Ordering::Acquire) < expected;
        let mut spins = 0u32;
        while claimed_unfinished() {
            spins += 1;
            if spins < 1 << 14 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        team.busy.store(false, Ordering::Release);
    }
}
