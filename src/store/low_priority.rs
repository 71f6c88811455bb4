//! Work of the store that must not take the CPU from the requests being served (reading and
//! building the reference snapshot on a reload): it runs on a thread of its own at the lowest
//! priority (Linux: nice 19, which threads it starts inherit, such as SQLite's thread for a
//! connection opened there), kept off a given CPU (the SQLite writer's) when the process may
//! use others, with a runtime of its own.

use std::future::Future;
use std::sync::{Arc, Weak};

use tokio::sync::oneshot;

use super::StoreError;

/// The nice value of such a thread, the lowest: it gets the CPU that the threads serving
/// requests leave.
const NICE: i32 = 19;

/// Whether the caller still waits for the work's result (it stops waiting when its future is
/// dropped, e.g. at shutdown): long work checks it between its steps.
pub(crate) struct Wanted(Weak<()>);

impl Wanted {
    pub(crate) fn still(&self) -> bool {
        self.0.strong_count() > 0
    }
}

/// A `Wanted` that stays true while the returned guard lives.
pub(crate) fn wanted() -> (Arc<()>, Wanted) {
    let guard = Arc::new(());
    let wanted = Wanted(Arc::downgrade(&guard));
    (guard, wanted)
}

/// Runs `work` on a thread named `name` at the lowest priority, off `avoid_cpu`; its result.
pub(crate) async fn run<T, F, Fut>(
    name: &str,
    avoid_cpu: Option<usize>,
    work: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(Wanted) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let (guard, wanted) = wanted();
    let (done, answer) = oneshot::channel();
    let what = name.to_string();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            lower_current_thread_priority();
            keep_current_thread_off(avoid_cpu);
            let out = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(work(wanted)),
                Err(e) => Err(StoreError::Unavailable(format!("{what}: {e}"))),
            };
            let _ = done.send(out);
        })
        .map_err(|e| StoreError::Unavailable(format!("{name}: {e}")))?;
    let out = answer
        .await
        .map_err(|_| StoreError::Unavailable(format!("{name} stopped before it answered")))?;
    drop(guard);
    out
}

/// Keeps the calling thread (and the threads it starts) off `cpu` when the process may run
/// on others.
fn keep_current_thread_off(cpu: Option<usize>) {
    #[cfg(target_os = "linux")]
    if let Some(cpu) = cpu {
        use rustix::thread::{sched_getaffinity, sched_setaffinity};
        let Ok(mut set) = sched_getaffinity(None) else {
            return;
        };
        if set.is_set(cpu) && set.count() > 1 {
            set.unset(cpu);
            if let Err(e) = sched_setaffinity(None, &set) {
                tracing::debug!(error = %e, cpu, "a low-priority thread may share this CPU");
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

/// Lowers the calling thread's priority to [`NICE`] (Linux: a thread's own nice value);
/// elsewhere, or when refused, it stays.
fn lower_current_thread_priority() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::process::setpriority_process(None, NICE) {
        tracing::debug!(error = %e, "a low-priority thread keeps its priority");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test(flavor = "current_thread")]
    async fn work_runs_at_the_lowest_priority_off_the_cpu_it_avoids() {
        use rustix::process::getpriority_process;
        use rustix::thread::sched_getaffinity;
        let own = getpriority_process(None).unwrap();
        let mine = sched_getaffinity(None).unwrap();
        let (nice, cpu_allowed) = run("low-priority-test", Some(0), |wanted| async move {
            assert!(wanted.still());
            Ok((
                getpriority_process(None).expect("priority"),
                sched_getaffinity(None).expect("affinity").is_set(0),
            ))
        })
        .await
        .unwrap();
        assert_eq!(nice, NICE);
        let others = (1..rustix::thread::CpuSet::MAX_CPU).any(|c| mine.is_set(c));
        assert_eq!(
            cpu_allowed,
            mine.is_set(0) && !others,
            "CPU 0 avoided when there are others"
        );
        // The caller's own thread keeps its priority and its CPUs.
        assert_eq!(getpriority_process(None).unwrap(), own);
        assert_eq!(sched_getaffinity(None).unwrap().is_set(0), mine.is_set(0));
    }

    #[test]
    fn work_is_wanted_while_its_caller_waits() {
        let (guard, wanted) = wanted();
        assert!(wanted.still());
        drop(guard);
        assert!(!wanted.still());
    }
}
