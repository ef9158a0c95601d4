//! Work split over the machine's two cores: used where a million users' worth of
//! independent, read-only steps sits on the critical path of a run.

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
    std::thread::scope(|scope| {
        let second = scope.spawn(move || {
            for (o, item) in second_out.iter_mut().zip(second_in) {
                *o = f(item);
            }
        });
        for (o, item) in first_out.iter_mut().zip(first_in) {
            *o = f(item);
        }
        // A panic in the other thread is a bug of this module, not an input problem.
        second
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e));
    });
    out
}
