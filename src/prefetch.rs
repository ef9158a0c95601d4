//! Prefetching, for the loops over a million users that read memory the caches do not
//! hold: a Zendesk user's strings, a slot of a big table, in an order the memory does not
//! follow. Each such read waits for memory; asked for a few items ahead, it is in cache
//! when the loop gets there, and the waits of several items overlap. A hint only: what
//! the program does is the same with or without it (measured on the parse/plan bench:
//! BENCHMARKS.md, Round 9).

/// How many items ahead a loop warms what it will read: far enough for a line to arrive
/// from memory meanwhile, near enough that it is still in cache when used. Loops whose
/// items take long to work through (a user's whole plan) look half as far.
pub(crate) const AHEAD: usize = 8;

/// Asks the processor to start loading the cache line holding `value`, without waiting
/// for it.
#[inline(always)]
pub(crate) fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of every x86_64 processor, and a prefetch never faults, reads
    // into a register or writes: it only warms the cache line of an address, whatever the
    // address (here that of a reference, which an empty slice's may not back with memory).
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Each item of `items` with the item `distance` places further on, if any: the loop
/// warms the later one's memory while it works on the first.
pub(crate) fn with_ahead<I: Iterator + Clone>(
    items: I,
    distance: usize,
) -> impl Iterator<Item = (I::Item, Option<I::Item>)> {
    let mut ahead = items.clone().skip(distance);
    items.map(move |item| (item, ahead.next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_item_comes_with_the_one_distance_places_on() {
        let pairs: Vec<_> = with_ahead([1, 2, 3, 4].iter().copied(), 2).collect();
        assert_eq!(pairs, [(1, Some(3)), (2, Some(4)), (3, None), (4, None)]);
        let pairs: Vec<_> = with_ahead([1, 2].iter().copied(), 0).collect();
        assert_eq!(pairs, [(1, Some(1)), (2, Some(2))]);
        assert_eq!(with_ahead(std::iter::empty::<u8>(), 8).count(), 0);
    }
}
