//! `mpirun -np N nabla train …`: the processes of a data-parallel run (README, "Training on
//! several machines"). Built with the `mpi` feature, a `nabla` started by an MPI launcher
//! joins `MPI_COMM_WORLD`; otherwise, and for every other command, it is one process alone.
//!
//! Rank 0 alone prints and writes files. A failure every process meets at the same point (a
//! data set no rank can read, a diverging loss) ends each of them normally; a failure on some
//! processes only ends the whole job through `MPI_Abort`, so that no process waits for ever.

use std::sync::atomic::{AtomicBool, Ordering};

use nabla::train::{Collective, SingleProcess};

use crate::commands::CliError;

/// Set once every process knows of the failure being reported (see [`agree`]).
static AGREED: AtomicBool = AtomicBool::new(false);

/// Whether an MPI launcher started this process (Open MPI, MPICH/Hydra and PMIx set these).
pub fn launched_by_mpirun() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// The processes of this run.
pub struct World {
    #[cfg(feature = "mpi")]
    mpi: Option<(mpi::environment::Universe, nabla::train::mpi::MpiCollective)>,
}

impl World {
    /// One process alone.
    pub fn single() -> Self {
        World {
            #[cfg(feature = "mpi")]
            mpi: None,
        }
    }

    /// Join the MPI job this process was started in, if any.
    pub fn join() -> Result<Self, CliError> {
        if !launched_by_mpirun() {
            return Ok(World::single());
        }
        #[cfg(feature = "mpi")]
        {
            let timeout = timeout()?;
            let (universe, collective) =
                nabla::train::mpi::init(timeout).map_err(|e| CliError::failure(e.to_string()))?;
            Ok(World {
                mpi: Some((universe, collective)),
            })
        }
        #[cfg(not(feature = "mpi"))]
        Err(CliError::usage(
            "this nabla was started by mpirun but built without MPI: build it with \
             `cargo build --release --features mpi` (README, \"Training on several machines\")",
        ))
    }

    /// The sums over the processes.
    pub fn collective(&self) -> &dyn Collective {
        #[cfg(feature = "mpi")]
        if let Some((_, c)) = &self.mpi {
            return c;
        }
        &SingleProcess
    }

    /// End the run with `outcome`: exit code 0, or the error printed (by rank 0, or by the
    /// rank that met it) and its code. Only a failure all processes agreed on ends MPI
    /// normally; any other ends the whole job.
    pub fn finish(self, outcome: Result<(), CliError>) -> ! {
        let collective = self.collective();
        let (rank, size) = (collective.rank(), collective.size());
        let agreed = size > 1 && AGREED.load(Ordering::Acquire);
        let print = |err: &CliError| {
            if err.message.is_empty() {
            } else if size > 1 && rank > 0 {
                error_line(&format!("rank {rank}: {}", err.message));
            } else {
                error_line(&err.message);
            }
        };
        let code = match &outcome {
            Ok(()) => 0,
            Err(err) if agreed => {
                // Every process is here: the others print first, rank 0 (which names them)
                // last, so that the lines do not mix.
                if rank > 0 {
                    print(err);
                }
                let _ = collective.sum_f64(&mut [0.0]);
                if rank == 0 {
                    print(err);
                }
                err.code
            }
            Err(err) => {
                print(err);
                err.code
            }
        };
        #[cfg(feature = "mpi")]
        if let Some((universe, collective)) = self.mpi {
            if code != 0 && size > 1 && !agreed {
                collective.abort(code);
            }
            drop(collective);
            drop(universe);
        }
        std::process::exit(code)
    }
}

/// Print `error: {message}` to stderr in one `write`. `eprintln!` writes each piece of its
/// format on its own, and under mpirun the launcher forwards each rank's stderr as it reads
/// it, so pieces of two ranks' lines could mix.
pub fn error_line(message: &str) {
    use std::io::Write;
    let line = format!("error: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// `NABLA_MPI_TIMEOUT`: seconds one collective call may wait (default 600; 0 = no limit).
#[cfg(feature = "mpi")]
fn timeout() -> Result<Option<std::time::Duration>, CliError> {
    const DEFAULT: u64 = 600;
    let secs = match std::env::var("NABLA_MPI_TIMEOUT") {
        Err(_) => DEFAULT,
        Ok(v) => v.trim().parse::<u64>().map_err(|_| {
            CliError::usage(format!(
                "NABLA_MPI_TIMEOUT={v}: expected a whole number of seconds (0 = no limit)"
            ))
        })?,
    };
    Ok((secs > 0).then(|| std::time::Duration::from_secs(secs)))
}

/// Mark the failure being returned as one every process meets at this point.
pub fn mark_agreed() {
    AGREED.store(true, Ordering::Release);
}

/// The silent error of a process other than rank 0 for a failure every process met at the
/// same point, which rank 0 reports.
pub fn reported_by_rank_0(code: i32) -> CliError {
    AGREED.store(true, Ordering::Release);
    CliError {
        message: String::new(),
        code,
    }
}

/// Every process reports whether its step succeeded; if any failed, every process returns an
/// error: its own, or (rank 0) one naming the ranks that failed, or (other ranks) a silent
/// one. All processes must call it at the same point.
pub fn agree<T>(
    collective: &dyn Collective,
    what: &str,
    outcome: Result<T, CliError>,
) -> Result<T, CliError> {
    let size = collective.size();
    if size == 1 {
        return outcome;
    }
    let rank = collective.rank();
    let mut failed = vec![0.0f64; size];
    failed[rank] = f64::from(u8::from(outcome.is_err()));
    collective
        .sum_f64(&mut failed)
        .map_err(|e| CliError::failure(e.to_string()))?;
    let ranks: Vec<String> = (0..size)
        .filter(|&r| failed[r] > 0.0)
        .map(|r| r.to_string())
        .collect();
    if ranks.is_empty() {
        return outcome;
    }
    AGREED.store(true, Ordering::Release);
    let list = ranks.join(", ");
    match outcome {
        Err(mut err) if rank == 0 => {
            if ranks.len() > 1 {
                err.message = format!("{} (ranks {list} failed {what})", err.message);
            }
            Err(err)
        }
        Err(err) => Err(err),
        Ok(_) if rank == 0 => Err(CliError::failure(format!(
            "rank{} {list} failed {what} (see its own message); the job ends",
            if ranks.len() > 1 { "s" } else { "" }
        ))),
        Ok(_) => Err(CliError::failure(String::new())),
    }
}
