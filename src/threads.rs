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
