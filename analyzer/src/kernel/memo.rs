//! Answers a kernel list already gave, kept so that the same question asked again (a check asks
//! about each target from several rules, the gate and the report) costs a lookup instead of a
//! scan of the whole list.
//!
//! A list never changes once parsed, so an answer stays right for the list's lifetime.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

/// Answers by key, shared by the list's clones as they were when cloned.
#[derive(Debug)]
pub(super) struct Memo<K, V> {
    answers: Mutex<HashMap<K, Arc<V>>>,
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            answers: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Clone, V> Clone for Memo<K, V> {
    fn clone(&self) -> Self {
        Self {
            answers: Mutex::new(self.locked().clone()),
        }
    }
}

impl<K, V> Memo<K, V> {
    fn locked(&self) -> std::sync::MutexGuard<'_, HashMap<K, Arc<V>>> {
        // A panic while holding the lock leaves at worst a missing answer: computed again.
        self.answers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Eq + Hash, V> Memo<K, V> {
    /// The answer for `key`, computed with `answer` the first time it is asked.
    pub(super) fn get_or_insert_with<Q>(&self, key: &Q, answer: impl FnOnce() -> V) -> Arc<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(known) = self.locked().get(key) {
            return Arc::clone(known);
        }
        let value = Arc::new(answer());
        self.locked()
            .entry(key.to_owned())
            .or_insert_with(|| Arc::clone(&value));
        value
    }

    /// Records answers found together (one scan for several keys), keeping any already known.
    pub(super) fn insert_all(&self, answers: impl IntoIterator<Item = (K, V)>) {
        let mut known = self.locked();
        for (key, value) in answers {
            known.entry(key).or_insert_with(|| Arc::new(value));
        }
    }

    /// Whether `key` has an answer.
    #[cfg(test)]
    pub(super) fn contains<Q>(&self, key: &Q) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.locked().contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_once_and_keeps_what_was_known() {
        let memo: Memo<String, usize> = Memo::default();
        let mut computed = 0;
        for _ in 0..3 {
            let answer = memo.get_or_insert_with("a", || {
                computed += 1;
                7
            });
            assert_eq!(*answer, 7);
        }
        assert_eq!(computed, 1);
        memo.insert_all([("a".to_string(), 1), ("b".to_string(), 2)]);
        assert_eq!(*memo.get_or_insert_with("a", || 0), 7);
        assert_eq!(*memo.get_or_insert_with("b", || 0), 2);
        let copy = memo.clone();
        assert!(copy.contains("b") && !copy.contains("c"));
    }
}
