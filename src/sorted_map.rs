//! A map held as one vector of (key, value) pairs sorted by key: the Pages users of a
//! desired state. Built once from pairs already in key order (the parser's own output), read
//! many times, rarely changed.
//!
//! At Pages scale a `BTreeMap` of a million users cost a bulk build of its nodes (about 80
//! ms at the end of every parse, on one core) and a node-by-node walk in every pass of the
//! planner, the verifier and the export (about 50 ms each); a vector costs neither. It
//! reads like the `BTreeMap` it replaces (`get`, `contains_key`, `iter`, `keys`,
//! `values`, `len`, indexing, iteration in key order), prints and serializes as a map, and
//! `collect`s and `insert`s as a map would (a later duplicate key replaces the earlier
//! one). `insert` shifts the pairs after the key: meant for tests and small maps, and
//! cheap when keys arrive in order.

use std::borrow::Borrow;
use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// From pairs already sorted by key without repeats. Not checked outside debug builds:
    /// checking compares every key with the next, which is what this type saves.
    pub(crate) fn from_sorted(pairs: Vec<(K, V)>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        SortedMap(pairs)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The position of `key` in key order, if present.
    pub fn index_of<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).ok()
    }

    /// The pair at position `at` in key order.
    pub fn get_index(&self, at: usize) -> Option<(&K, &V)> {
        self.0.get(at).map(|(k, v)| (k, v))
    }

    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).ok().map(|at| &mut self.0[at].1)
    }

    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).ok().map(|at| &self.0[at].1)
    }

    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.position(key).is_ok()
    }

    /// Inserts or replaces, as `BTreeMap::insert`: the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        // Keys in increasing order (builders, generators) append without a search.
        if self.0.last().is_none_or(|(last, _)| *last < key) {
            self.0.push((key, value));
            return None;
        }
        match self.position(&key) {
            Ok(at) => Some(std::mem::replace(&mut self.0[at].1, value)),
            Err(at) => {
                self.0.insert(at, (key, value));
                None
            }
        }
    }

    /// (key, value) in key order, as `BTreeMap::iter`.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + ExactSizeIterator {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        SortedMap(sorted_by_key_last_wins(iter.into_iter().collect()))
    }
}

/// `pairs` sorted by key, one pair per key: of equal keys the last one in `pairs`, as
/// inserting them one by one into a `BTreeMap` would keep. Shared with `model::Roles`.
pub(crate) fn sorted_by_key_last_wins<K: Ord, V>(mut pairs: Vec<(K, V)>) -> Vec<(K, V)> {
    // Stable, so that equal keys stay in insertion order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut kept: Vec<(K, V)> = Vec::with_capacity(pairs.len());
    for pair in pairs {
        match kept.last_mut() {
            Some(last) if last.0 == pair.0 => *last = pair,
            _ => kept.push(pair),
        }
    }
    kept
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        fn split<K, V>(pair: &(K, V)) -> (&K, &V) {
            (&pair.0, &pair.1)
        }
        self.0.iter().map(split as _)
    }
}

impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> std::ops::Index<&Q> for SortedMap<K, V> {
    type Output = V;

    /// Panics when the key is missing, as `BTreeMap`'s indexing does (tests use it).
    fn index(&self, key: &Q) -> &V {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no entry for the key"),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::SortedMap;

    proptest::proptest! {
        /// Inserting and collecting agree with a `BTreeMap` fed the same pairs, in
        /// contents, order, lookups, printing and serialization.
        #[test]
        fn it_behaves_as_a_btree_map(
            pairs in proptest::collection::vec((0u8..40, 0u16..1000), 0..60),
            probes in proptest::collection::vec(0u8..45, 0..20),
        ) {
            let mut tree = BTreeMap::new();
            let mut inserted = SortedMap::default();
            for &(k, v) in &pairs {
                proptest::prop_assert_eq!(inserted.insert(k, v), tree.insert(k, v));
            }
            let collected: SortedMap<u8, u16> = pairs.iter().copied().collect();
            for map in [&inserted, &collected] {
                proptest::prop_assert_eq!(map.len(), tree.len());
                proptest::prop_assert!(map.iter().eq(tree.iter()));
                proptest::prop_assert_eq!(format!("{map:?}"), format!("{tree:?}"));
                proptest::prop_assert_eq!(
                    serde_json::to_string(map).unwrap(),
                    serde_json::to_string(&tree).unwrap()
                );
                for p in &probes {
                    proptest::prop_assert_eq!(map.get(p), tree.get(p));
                    proptest::prop_assert_eq!(map.contains_key(p), tree.contains_key(p));
                }
            }
            proptest::prop_assert!(SortedMap::from_sorted(tree.clone().into_iter().collect()) == collected);
        }
    }

    #[test]
    fn keys_that_borrow_look_up_by_the_borrowed_form() {
        let map: SortedMap<String, u8> = [("b".to_string(), 2), ("a".to_string(), 1)]
            .into_iter()
            .collect();
        assert_eq!(map.get("a"), Some(&1));
        assert_eq!(map["b"], 2);
        assert!(!map.contains_key("c"));
        assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
    }
}
