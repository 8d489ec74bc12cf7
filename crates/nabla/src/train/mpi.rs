//! [`Collective`] over MPI (feature `mpi`): the sums are `MPI_Allreduce` calls on
//! `MPI_COMM_WORLD`, through the `mpi` crate (rsmpi) and the system's MPI library.
//!
//! A watchdog thread ends the whole job (`MPI_Abort`) when one call waits longer than the
//! timeout for the other processes: a process that hangs or stopped answering must not
//! leave the others waiting for ever.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::collective::{check_lengths, Parts};
use super::Collective;
use crate::{Error, Result};

/// The processes of `MPI_COMM_WORLD`.
pub struct MpiCollective {
    world: SimpleCommunicator,
    rank: usize,
    size: usize,
    send32: RefCell<Vec<f32>>,
    send64: RefCell<Vec<f64>>,
    watch: Arc<Watch>,
    spent: Cell<(Duration, u64)>,
}

/// When the current call started (milliseconds since `origin`, plus one; 0 = no call).
struct Watch {
    origin: Instant,
    since: AtomicU64,
}

/// Start MPI (with threads allowed to call it, which the watchdog needs) and return its
/// environment, which ends MPI when dropped, with the world's collective. `timeout`: how long
/// one call may wait for the other processes before the job is ended; `None` waits for ever.
pub fn init(timeout: Option<Duration>) -> Result<(Universe, MpiCollective)> {
    let (universe, _level) = mpi::initialize_with_threading(mpi::Threading::Multiple)
        .ok_or_else(|| Error::param("MPI", "MPI was already started in this process"))?;
    let world = universe.world();
    let collective = MpiCollective::new(world, timeout);
    Ok((universe, collective))
}

impl MpiCollective {
    fn new(world: SimpleCommunicator, timeout: Option<Duration>) -> Self {
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let watch = Arc::new(Watch {
            origin: Instant::now(),
            since: AtomicU64::new(0),
        });
        if let Some(limit) = timeout {
            let watch = watch.clone();
            std::thread::spawn(move || loop {
                std::thread::sleep(Duration::from_millis(200));
                let since = watch.since.load(Ordering::Acquire);
                if since == 0 {
                    continue;
                }
                let waited = watch.origin.elapsed().as_millis() as u64 - (since - 1);
                if waited > limit.as_millis() as u64 {
                    eprintln!(
                        "error: rank {rank} of {size}: the other processes did not answer within \
                         {} s (NABLA_MPI_TIMEOUT); ending the job",
                        limit.as_secs()
                    );
                    SimpleCommunicator::world().abort(3);
                }
            });
        }
        MpiCollective {
            world,
            rank,
            size,
            send32: RefCell::new(vec![]),
            send64: RefCell::new(vec![]),
            watch,
            spent: Cell::new((Duration::ZERO, 0)),
        }
    }

    /// End every process of the job with `code` (`MPI_Abort`): for a failure the other
    /// processes cannot know of.
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    /// `buf` ← its sum over the processes (`send` holds the outgoing copy).
    fn all_reduce<T>(&self, send: &RefCell<Vec<T>>, buf: &mut [T]) -> Result<()>
    where
        T: Copy + mpi::datatype::Equivalence,
    {
        let mut send = send.borrow_mut();
        send.clear();
        send.extend_from_slice(buf);
        self.watched(|| {
            self.world
                .all_reduce_into(&send[..], buf, SystemOperation::sum())
        });
        Ok(())
    }

    fn watched<T>(&self, call: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let now = self.watch.origin.elapsed().as_millis() as u64 + 1;
        self.watch.since.store(now, Ordering::Release);
        let out = call();
        self.watch.since.store(0, Ordering::Release);
        let (spent, calls) = self.spent.get();
        self.spent.set((spent + start.elapsed(), calls + 1));
        out
    }
}

impl Collective for MpiCollective {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&self, buf: &mut [f32]) -> Result<()> {
        self.all_reduce(&self.send32, buf)
    }
    fn sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        self.all_reduce(&self.send64, buf)
    }
    fn time_in_sums(&self) -> Option<(Duration, u64)> {
        Some(self.spent.get())
    }

    /// Each part is summed by an `MPI_Iallreduce` started when it is posted; all are waited
    /// for at the end (`MPI_Waitall`).
    fn sum_in_parts(
        &self,
        send: &mut [f32],
        recv: &mut [f32],
        work: &mut dyn FnMut(&mut Parts<'_>) -> Result<()>,
    ) -> Result<()> {
        use mpi::ffi;
        use mpi::raw::AsRaw;
        check_lengths(send, recv)?;
        let comm = self.world.as_raw();
        let recv_base = recv.as_mut_ptr();
        let mut requests: Vec<ffi::MPI_Request> = Vec::new();
        let mut start = |base: *const f32, range: std::ops::Range<usize>| -> Result<()> {
            if range.is_empty() {
                return Ok(());
            }
            let mut request = std::mem::MaybeUninit::<ffi::MPI_Request>::uninit();
            // SAFETY: `base` and `recv_base` point at buffers of the same length that stay
            // borrowed by this call until MPI_Waitall below; the part is inside both and
            // untouched until then.
            let code = unsafe {
                ffi::MPI_Iallreduce(
                    base.add(range.start) as *const std::ffi::c_void,
                    recv_base.add(range.start) as *mut std::ffi::c_void,
                    (range.end - range.start) as std::ffi::c_int,
                    ffi::RSMPI_FLOAT,
                    ffi::RSMPI_SUM,
                    comm,
                    request.as_mut_ptr(),
                )
            };
            if code != 0 {
                return Err(Error::param(
                    "MPI",
                    format!("MPI_Iallreduce failed ({code})"),
                ));
            }
            // SAFETY: MPI_Iallreduce succeeded and wrote the request.
            requests.push(unsafe { request.assume_init() });
            Ok(())
        };
        let outcome = {
            let mut parts = Parts::new(send, &mut start);
            let done = work(&mut parts);
            // What was never posted goes last.
            let rest = 0..parts.posted_from();
            done.and_then(|_| parts.post(rest, |_| {}))
        };
        // Every started sum is waited for, even after a failure (MPI reads the buffers).
        self.watched(|| {
            if !requests.is_empty() {
                // SAFETY: the requests were started above and are waited for once.
                unsafe {
                    ffi::MPI_Waitall(
                        requests.len() as std::ffi::c_int,
                        requests.as_mut_ptr(),
                        ffi::RSMPI_STATUSES_IGNORE,
                    );
                }
            }
        });
        outcome
    }
}
