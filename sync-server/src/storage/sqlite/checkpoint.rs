//! The WAL checkpointer: copies committed pages from the write-ahead log back into the
//! database file on its own thread and connection, so the writer never does it.
//!
//! SQLite's default, the automatic checkpoint, runs inside the `COMMIT` that crosses 1,000
//! WAL pages: that writer then copies the whole log and syncs the database file while
//! every other write (and every sync waiting on one) queues behind it. Here the writer's
//! automatic checkpoint is off and this thread runs a `PASSIVE` checkpoint after every
//! [`COMMITS_PER_CHECKPOINT`] commits, or after [`IDLE`] once writes stop. A passive
//! checkpoint never blocks a writer or a reader; it copies what no reader still needs, and
//! the writer restarts the log from the beginning once all of it has been copied.
//!
//! Durability does not depend on it: a committed transaction is in the WAL, which SQLite
//! replays on open. A checkpoint that fails is logged and retried at the next trigger.

use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::error::{Error, Result};

/// Commits between two checkpoints while writes keep coming.
const COMMITS_PER_CHECKPOINT: u64 = 32;
/// Quiet time after the last commit before the log is checkpointed anyway.
const IDLE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    /// Commits not yet followed by a checkpoint.
    pending: u64,
    stop: bool,
}

/// Handle to the checkpointer thread; stops it (after a last checkpoint) when dropped.
pub(super) struct Checkpointer {
    shared: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a connection of its own to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn({
                let shared = shared.clone();
                move || run(&conn, &shared)
            })
            .map_err(|e| Error::Internal(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the checkpointer a transaction committed.
    pub(super) fn committed(&self) {
        let (state, wake) = &*self.shared;
        if let Ok(mut state) = state.lock() {
            state.pending += 1;
            if state.pending >= COMMITS_PER_CHECKPOINT {
                wake.notify_one();
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (state, wake) = &*self.shared;
        if let Ok(mut state) = state.lock() {
            state.stop = true;
        }
        wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, shared: &(Mutex<State>, Condvar)) {
    let (state, wake) = shared;
    loop {
        let stop = {
            let Ok(mut guard) = state.lock() else { return };
            while !guard.stop && guard.pending < COMMITS_PER_CHECKPOINT {
                let before = guard.pending;
                let Ok((next, timeout)) = wake.wait_timeout(guard, IDLE) else {
                    return;
                };
                guard = next;
                // Idle: commits happened but none for a while.
                if timeout.timed_out() && guard.pending > 0 && guard.pending == before {
                    break;
                }
            }
            guard.pending = 0;
            guard.stop
        };
        if let Err(e) = checkpoint(conn) {
            tracing::warn!(error = %e, "WAL checkpoint failed; retried at the next one");
        }
        if stop {
            return;
        }
    }
}

/// One passive checkpoint; returns (log pages, pages copied).
fn checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
    .inspect(|(log, copied)| tracing::trace!(log, copied, "WAL checkpoint"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_checkpointed_into_the_database_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; \
                 CREATE TABLE t (v TEXT NOT NULL);",
            )
            .expect("schema");
        let checkpointer = Checkpointer::start(&path).expect("start");
        // Rows of 4 KB, one per commit: the log holds at least a page per commit.
        let note = "拜访记录".repeat(4096 / 12);
        for i in 0..COMMITS_PER_CHECKPOINT {
            writer
                .execute("INSERT INTO t VALUES (?1)", [format!("{i}{note}")])
                .expect("insert");
        }
        let main_file = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(
            main_file(&path) < 8 * 4096,
            "the writer itself does not checkpoint"
        );
        for _ in 0..COMMITS_PER_CHECKPOINT {
            checkpointer.committed();
        }
        // Dropping runs a last checkpoint and joins the thread.
        drop(checkpointer);
        assert!(
            main_file(&path) >= COMMITS_PER_CHECKPOINT * 4096,
            "the rows were copied into the database file: {} bytes",
            main_file(&path)
        );
    }
}
