//! A table keyed by Zendesk id for the loops that look up a million ids in an order the
//! table does not follow (memberships by membership id, users by email): each lookup is a
//! miss in memory the caches do not hold. Unlike a general hash map, it tells where an
//! id's slot is before the lookup, so a loop asks the processor for the slots of the ids
//! a few items ahead ([`IdTable::prefetch`]) and finds them in cache when it gets there.
//!
//! Open addressing with linear probing in one array of (id, value) slots, at most half
//! full; ids are inserted once, never removed.

/// A slot no id holds: ids are looked up by value, so `u64::MAX` itself, should Zendesk
/// ever use it, is kept beside the slots.
const EMPTY: u64 = u64::MAX;

pub(crate) struct IdTable<V> {
    /// (id, value), or ([`EMPTY`], `None`). The value is an `Option` only so that empty
    /// slots need no value (a reference's `Option` is no bigger than the reference).
    slots: Vec<(u64, Option<V>)>,
    /// `64 - log2(slots.len())`: the top bits of the mixed id pick the slot.
    shift: u32,
    /// The value of id `u64::MAX` (the empty slots' marker), if inserted.
    max_id: Option<V>,
    len: usize,
}

impl<V: Copy> IdTable<V> {
    /// A table for up to `n` ids (a few more are fine, the table only grows slower).
    pub(crate) fn with_capacity(n: usize) -> Self {
        let slots = (2 * n).max(16).next_power_of_two();
        IdTable {
            slots: vec![(EMPTY, None); slots],
            shift: 64 - slots.trailing_zeros(),
            max_id: None,
            len: 0,
        }
    }

    /// Ids in a row (Zendesk's are increasing) spread over the whole table: Fibonacci
    /// hashing, the top bits of the id times 2^64 / φ.
    fn home(&self, id: u64) -> usize {
        // Below `slots.len()`, a `usize`: the conversion never fails.
        usize::try_from(id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift).unwrap_or(0)
    }

    /// Adds `id` with `value` unless the table has it (then it keeps the first value).
    pub(crate) fn insert(&mut self, id: u64, value: V) {
        if id == EMPTY {
            self.max_id.get_or_insert(value);
            return;
        }
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(id);
        loop {
            let slot = &mut self.slots[at];
            if slot.0 == id {
                return;
            }
            if slot.0 == EMPTY {
                *slot = (id, Some(value));
                self.len += 1;
                return;
            }
            at = (at + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        let max_id = self.max_id.take();
        *self = IdTable::with_capacity(old.len());
        self.max_id = max_id;
        for (id, value) in old {
            if let Some(value) = value {
                self.insert(id, value);
            }
        }
    }

    fn position(&self, id: u64) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(id);
        loop {
            match self.slots[at].0 {
                k if k == id => return Some(at),
                EMPTY => return None,
                _ => at = (at + 1) & mask,
            }
        }
    }

    pub(crate) fn get(&self, id: u64) -> Option<&V> {
        if id == EMPTY {
            return self.max_id.as_ref();
        }
        self.position(id).and_then(|at| self.slots[at].1.as_ref())
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        if id == EMPTY {
            return self.max_id.as_mut();
        }
        self.position(id).and_then(|at| self.slots[at].1.as_mut())
    }

    /// Starts loading the slot where a lookup of `id` begins; changes nothing.
    #[inline]
    pub(crate) fn prefetch(&self, id: u64) {
        crate::prefetch::prefetch(&self.slots[self.home(id)]);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len + usize::from(self.max_id.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn the_empty_marker_is_an_id_like_any_other() {
        let mut table = IdTable::with_capacity(4);
        assert_eq!(table.get(u64::MAX), None);
        table.insert(u64::MAX, 7u32);
        table.insert(u64::MAX, 8);
        table.insert(0, 1);
        assert_eq!(table.get(u64::MAX), Some(&7));
        assert_eq!(table.get(0), Some(&1));
        assert_eq!(table.len(), 2);
        *table.get_mut(u64::MAX).unwrap() = 9;
        assert_eq!(table.get(u64::MAX), Some(&9));
        table.prefetch(u64::MAX);
    }

    proptest! {
        /// Whatever the ids (colliding, repeated, past the capacity given), the table
        /// answers as a map that keeps each id's first value.
        #[test]
        fn it_answers_as_a_map_keeping_first_values(
            ids in proptest::collection::vec(
                prop_oneof![0u64..64, any::<u64>(), Just(u64::MAX), (0u64..8).prop_map(|k| k << 58)],
                0..300,
            ),
            capacity in 0usize..40,
            probes in proptest::collection::vec(any::<u64>(), 0..20),
        ) {
            let mut table = IdTable::with_capacity(capacity);
            let mut model = HashMap::new();
            for (n, &id) in ids.iter().enumerate() {
                table.insert(id, n);
                model.entry(id).or_insert(n);
            }
            prop_assert_eq!(table.len(), model.len());
            for id in ids.iter().chain(&probes) {
                table.prefetch(*id);
                prop_assert_eq!(table.get(*id), model.get(id));
            }
            for (&id, &n) in &model {
                *table.get_mut(id).unwrap() = n + 1;
                prop_assert_eq!(table.get(id), Some(&(n + 1)));
            }
        }
    }
}
