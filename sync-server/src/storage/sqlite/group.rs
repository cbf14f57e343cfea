//! Group commit: concurrent writes share one transaction, and so one WAL append and one
//! lock hand-over, instead of each paying for its own.
//!
//! A writer queues its job, then takes the writer connection. Whoever holds the connection
//! (the *leader*) runs every job queued at that moment in one `IMMEDIATE` transaction, each
//! inside its own savepoint so that a job that fails leaves no trace and does not fail the
//! others, commits once, and only then hands each job its result. A writer that finds its
//! result already delivered when it gets the connection returns at once: another leader
//! carried it. The invariant that makes this simple: a leader delivers every result it owes
//! before it releases the connection, so a writer holding the connection either has its
//! result or still finds its job in the queue.
//!
//! Nobody is told "done" before the commit that made their write durable, so a reader
//! that starts after a write returned sees it, exactly as without grouping. A commit that
//! fails fails every job of the group with the same error.
//!
//! Jobs own their data (`'static`): the leader may be another thread, so a job cannot
//! borrow from its caller's stack.

use std::sync::Mutex;
use std::sync::mpsc;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// The queue of writes waiting for the next leader.
#[derive(Default)]
pub(super) struct GroupQueue {
    jobs: Mutex<Vec<Box<dyn Job>>>,
}

/// One queued write, type-erased so that writes of every result type share a group.
trait Job: Send {
    /// Runs the write inside the group's transaction, in its own savepoint (rolled back if
    /// the write fails). An error here is the savepoint machinery failing: the transaction
    /// is no longer trustworthy and the whole group is abandoned.
    fn run(&mut self, tx: &Transaction<'_>) -> Result<()>;
    /// Hands the caller its result: the write's own, or the group's failure.
    fn deliver(self: Box<Self>, group_failure: Option<&Error>);
}

struct Typed<T, F> {
    write: Option<F>,
    outcome: Option<Result<T>>,
    reply: mpsc::SyncSender<Result<T>>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
{
    fn run(&mut self, tx: &Transaction<'_>) -> Result<()> {
        let Some(write) = self.write.take() else {
            return Ok(());
        };
        tx.execute_batch("SAVEPOINT group_job")?;
        let outcome = write(tx);
        let undo = match &outcome {
            Ok(_) => tx.execute_batch("RELEASE group_job"),
            Err(_) => tx.execute_batch("ROLLBACK TO group_job; RELEASE group_job"),
        };
        let cause = match (&outcome, undo) {
            (_, Ok(())) => None,
            // SQLite rolls the whole transaction back itself on some errors (a full disk
            // among them), savepoints included: the write's error is then the group's.
            (Err(own), Err(_)) => Some(same_failure(own)),
            (Ok(_), Err(e)) => Some(Error::from(e)),
        };
        self.outcome = Some(outcome);
        match cause {
            None => Ok(()),
            Some(cause) => Err(cause),
        }
    }

    fn deliver(self: Box<Self>, group_failure: Option<&Error>) {
        let result = match (group_failure, self.outcome) {
            (None, Some(outcome)) => outcome,
            // Its own failure says more, and its writes were rolled back either way.
            (Some(_), Some(Err(own))) => Err(own),
            (Some(failure), _) => Err(same_failure(failure)),
            (None, None) => Err(Error::Internal("group commit skipped a write".into())),
        };
        // The caller may have stopped waiting (its thread panicked): nothing to tell.
        let _ = self.reply.send(result);
    }
}

/// The group's failure, once per job (the error type is not `Clone`: it carries
/// `rusqlite` errors in other variants).
fn same_failure(failure: &Error) -> Error {
    match failure {
        Error::StorageFull => Error::StorageFull,
        Error::ReadOnly => Error::ReadOnly,
        Error::Storage(detail) => Error::Storage(detail.clone()),
        other => Error::Internal(format!("group commit failed: {other}")),
    }
}

impl GroupQueue {
    /// Runs `write` in the next group transaction on `writer` and returns its result once
    /// that transaction has committed (or failed).
    pub(super) fn write<T, F>(&self, writer: &Mutex<Connection>, write: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (reply, result) = mpsc::sync_channel(1);
        self.jobs
            .lock()
            .map_err(|_| Error::Internal("group queue poisoned".into()))?
            .push(Box::new(Typed {
                write: Some(write),
                outcome: None,
                reply,
            }));
        let mut conn = writer
            .lock()
            .map_err(|_| Error::Internal("writer lock poisoned".into()))?;
        if let Ok(done) = result.try_recv() {
            return done;
        }
        let jobs = std::mem::take(
            &mut *self
                .jobs
                .lock()
                .map_err(|_| Error::Internal("group queue poisoned".into()))?,
        );
        run_group(&mut conn, jobs);
        drop(conn);
        result
            .try_recv()
            .unwrap_or_else(|_| Err(Error::Internal("group commit lost a write".into())))
    }
}

/// Runs `jobs` in one transaction and delivers every result (the leader's part).
fn run_group(conn: &mut Connection, jobs: Vec<Box<dyn Job>>) {
    let size = jobs.len();
    let mut jobs = jobs;
    let failure = (|| -> Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in &mut jobs {
            job.run(&tx)?;
        }
        tx.commit()?;
        Ok(())
    })()
    .err();
    if let Some(failure) = &failure {
        tracing::warn!(size, error = %failure, "group commit failed; every write in it fails");
    } else if size > 1 {
        tracing::trace!(size, "group commit");
    }
    for job in jobs {
        job.deliver(failure.as_ref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn writer() -> (tempfile::TempDir, Arc<Mutex<Connection>>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = Connection::open(dir.path().join("g.db")).expect("open");
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);",
        )
        .expect("schema");
        (dir, Arc::new(Mutex::new(conn)))
    }

    fn count(conn: &Mutex<Connection>) -> i64 {
        conn.lock()
            .expect("lock")
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_failed_write_leaves_no_trace_and_does_not_fail_its_group() {
        let (_dir, conn) = writer();
        let queue = GroupQueue::default();
        // Queue two writes by hand, so that one leader runs both in one transaction.
        let (ok_reply, ok) = mpsc::sync_channel(1);
        let (bad_reply, bad) = mpsc::sync_channel(1);
        {
            let mut jobs = queue.jobs.lock().expect("queue");
            jobs.push(Box::new(Typed {
                write: Some(|tx: &Transaction<'_>| -> Result<u32> {
                    tx.execute("INSERT INTO t VALUES ('甲', 1)", [])?;
                    Ok(1)
                }),
                outcome: None,
                reply: ok_reply,
            }));
            jobs.push(Box::new(Typed {
                write: Some(|tx: &Transaction<'_>| -> Result<u32> {
                    tx.execute("INSERT INTO t VALUES ('乙', 2)", [])?;
                    Err(Error::Conflict)
                }),
                outcome: None,
                reply: bad_reply,
            }));
        }
        // A third write arrives and leads: it carries the two queued before it.
        let third = queue.write(&conn, |tx| {
            tx.execute("INSERT INTO t VALUES ('丙', 3)", [])?;
            Ok(3)
        });
        assert_eq!(third.expect("third"), 3);
        assert_eq!(ok.try_recv().expect("delivered").expect("ok"), 1);
        assert!(matches!(
            bad.try_recv().expect("delivered"),
            Err(Error::Conflict)
        ));
        assert_eq!(count(&conn), 2, "the failed write's row was rolled back");
    }

    #[test]
    fn concurrent_writers_all_land_and_each_gets_its_own_result() {
        let (_dir, conn) = writer();
        let queue = Arc::new(GroupQueue::default());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (conn, queue) = (conn.clone(), queue.clone());
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let key = format!("客户{t}-{i}");
                            let got = queue
                                .write(&conn, move |tx| {
                                    tx.execute("INSERT INTO t VALUES (?1, ?2)", (&key, i))?;
                                    Ok(key)
                                })
                                .expect("write");
                            assert_eq!(got, format!("客户{t}-{i}"));
                        })
                        .count()
                })
            })
            .collect();
        let written: usize = threads.into_iter().map(|t| t.join().expect("join")).sum();
        assert_eq!(written, 400);
        assert_eq!(count(&conn), 400);
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_group() {
        let (_dir, conn) = writer();
        // A deferred foreign key violated by one write fails the commit, not the write.
        conn.lock()
            .expect("lock")
            .execute_batch(
                "PRAGMA foreign_keys=ON; CREATE TABLE parent (id INTEGER PRIMARY KEY); \
                 CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
            )
            .expect("schema");
        let queue = GroupQueue::default();
        let (reply, first) = mpsc::sync_channel(1);
        queue.jobs.lock().expect("queue").push(Box::new(Typed {
            write: Some(|tx: &Transaction<'_>| -> Result<()> {
                tx.execute("INSERT INTO t VALUES ('丁', 4)", [])?;
                Ok(())
            }),
            outcome: None,
            reply,
        }));
        let second = queue.write(&conn, |tx| {
            tx.execute("INSERT INTO child VALUES (42)", [])?;
            Ok(())
        });
        assert!(second.is_err());
        assert!(first.try_recv().expect("delivered").is_err());
        assert_eq!(count(&conn), 0);
    }
}
