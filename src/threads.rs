//! Work split over the machine's two cores: used where a million users' worth of
//! independent, read-only steps sits on the critical path of a run.

/// `here()` on this thread while `there()` runs on another; both results. A panic on the
/// other thread is raised again here: it is a bug of the caller, not an input problem.
pub(crate) fn join<A, B: Send>(
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let there = scope.spawn(there);
        let here = here();
        let there = there
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
        (here, there)
    })
}

/// Whether the machine has a second core to give [`join`]'s other closure.
pub(crate) fn two_cores() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

/// [`join`] when `parallel`, else both closures on this thread, `here` first: for work
/// that only pays for a thread when it is big and a second core is there.
pub(crate) fn join_if<A, B: Send>(
    parallel: bool,
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
) -> (A, B) {
    if parallel {
        join(here, there)
    } else {
        (here(), there())
    }
}

/// `f` of each item, in order; the two halves on two threads (`f` only reads).
pub(crate) fn par_map<T: Sync, R: Send + Default + Clone>(
    items: &[T],
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let mut out = vec![R::default(); items.len()];
    let mid = items.len() / 2;
    let (first_in, second_in) = items.split_at(mid);
    let (first_out, second_out) = out.split_at_mut(mid);
    let f = &f;
    join(
        || {
            for (o, item) in first_out.iter_mut().zip(first_in) {
                *o = f(item);
            }
        },
        move || {
            for (o, item) in second_out.iter_mut().zip(second_in) {
                *o = f(item);
            }
        },
    );
    out
}

/// `here()` on this thread and `there()` on another, as [`join`]; then both threads share
/// the `parts` calls `part(k)` (`k` in `0..parts`), each taking the next one not yet taken
/// as soon as it is free: a long `here` and a short `there` still end together. The parts'
/// results come back in `k` order, whichever thread made them.
pub(crate) fn join_then_share<A, B: Send, R: Send>(
    here: impl FnOnce() -> A,
    there: impl FnOnce() -> B + Send,
    parts: usize,
    part: impl Fn(usize) -> R + Sync,
) -> (A, B, Vec<R>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            if k >= parts {
                return done;
            }
            done.push((k, part(k)));
        }
    };
    let ((a, mut mine), (b, theirs)) = join(
        || (here(), take()),
        || {
            let b = there();
            (b, take())
        },
    );
    mine.extend(theirs);
    mine.sort_unstable_by_key(|&(k, _)| k);
    (a, b, mine.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn shared_parts_are_each_made_once_and_come_back_in_order() {
        for parts in [0, 1, 2, 7, 40] {
            let calls = AtomicUsize::new(0);
            let (a, b, results) = join_then_share(
                || "here",
                || "there",
                parts,
                |k| {
                    calls.fetch_add(1, Ordering::Relaxed);
                    // Long enough that both threads take parts, interleaved.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                    k * 10
                },
            );
            assert_eq!((a, b), ("here", "there"));
            assert_eq!(calls.load(Ordering::Relaxed), parts);
            assert_eq!(results, (0..parts).map(|k| k * 10).collect::<Vec<_>>());
        }
    }
}
