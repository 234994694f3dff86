//! What a team server keeps in memory between calls while it hears the team
//! database's notices (`LISTEN`): the database announces each change to
//! what is kept, whichever computer makes it, and the server forgets what
//! the change touched as it hears it. A server that loses the connection
//! the notices come on forgets everything and keeps nothing until it has
//! the connection back. A panel file keeps nothing: no one announces its
//! changes, and reading it costs no round trip.
//!
//! A value read before a notice about it is heard is not kept after it:
//! the reader takes [`Kept::heard_so_far`] before it reads, and
//! [`Kept::keep`] refuses the value if its key (or everything) was
//! forgotten since.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// At most this many values (and as many forgotten keys) are remembered;
/// past it everything is forgotten at once and read again when next asked.
const MOST_KEPT: usize = 100_000;

/// Values kept by key, shared by every handle on one panel.
pub(crate) struct Kept<K, V> {
    inner: Mutex<Inner<K, V>>,
    hearing: AtomicBool,
}

struct Inner<K, V> {
    values: HashMap<K, V>,
    /// Counts every forgetting (a notice heard, a change made here, the
    /// notices lost or found): a reader's start is placed by it.
    count: u64,
    /// The count when each key was last forgotten.
    forgotten: HashMap<K, u64>,
    /// The count when everything was last forgotten.
    all_forgotten: u64,
}

impl<K, V> Default for Kept<K, V> {
    fn default() -> Self {
        Kept {
            inner: Mutex::new(Inner {
                values: HashMap::new(),
                count: 0,
                forgotten: HashMap::new(),
                all_forgotten: 0,
            }),
            hearing: AtomicBool::new(false),
        }
    }
}

impl<K, V> std::fmt::Debug for Kept<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("hearing", &self.hearing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<K: Eq + Hash + Clone, V: Clone> Kept<K, V> {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value kept for `key`, when there is one and `good` says it may
    /// still be used.
    pub(crate) fn get(&self, key: &K, good: impl FnOnce(&V) -> bool) -> Option<V> {
        if !self.is_hearing() {
            return None;
        }
        self.inner().values.get(key).filter(|v| good(v)).cloned()
    }

    /// Where forgetting stands, taken before a value is read.
    pub(crate) fn heard_so_far(&self) -> u64 {
        self.inner().count
    }

    /// Keeps `value`, read when [`Kept::heard_so_far`] said `heard`: not if
    /// its key or everything was forgotten since, as it may have been read
    /// before the change.
    pub(crate) fn keep(&self, key: K, value: V, heard: u64) {
        if !self.is_hearing() {
            return;
        }
        let mut inner = self.inner();
        if inner.all_forgotten > heard || inner.forgotten.get(&key).is_some_and(|&at| at > heard) {
            return;
        }
        if inner.values.len() >= MOST_KEPT {
            inner.forget_all();
        }
        inner.values.insert(key, value);
    }

    /// Forgets what is kept for `key` (changed on this computer, or
    /// announced).
    pub(crate) fn forget(&self, key: &K) {
        let mut inner = self.inner();
        inner.count += 1;
        inner.values.remove(key);
        if inner.forgotten.len() >= MOST_KEPT {
            inner.forget_all();
        } else {
            let count = inner.count;
            inner.forgotten.insert(key.clone(), count);
        }
    }

    /// Forgets everything kept.
    pub(crate) fn forget_all(&self) {
        self.inner().forget_all();
    }

    /// Whether values are kept now (the notices are heard).
    pub(crate) fn is_hearing(&self) -> bool {
        self.hearing.load(Ordering::Acquire)
    }

    /// The notices are heard from now on (`true`), or no longer: either way
    /// what was kept is forgotten, as changes may have gone unheard.
    pub(crate) fn hearing(&self, on: bool) {
        let mut inner = self.inner();
        inner.forget_all();
        self.hearing.store(on, Ordering::Release);
    }
}

impl<K, V> Inner<K, V> {
    fn forget_all(&mut self) {
        self.count += 1;
        self.all_forgotten = self.count;
        self.values.clear();
        self.forgotten.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heard() -> Kept<&'static str, u32> {
        let kept = Kept::default();
        kept.hearing(true);
        kept
    }

    #[test]
    fn nothing_is_kept_unless_the_notices_are_heard() {
        let kept = Kept::default();
        kept.keep("a", 1, kept.heard_so_far());
        assert_eq!(kept.get(&"a", |_| true), None);
        kept.hearing(true);
        kept.keep("a", 1, kept.heard_so_far());
        assert_eq!(kept.get(&"a", |_| true), Some(1));
        kept.hearing(false);
        assert_eq!(kept.get(&"a", |_| true), None);
        kept.hearing(true);
        assert_eq!(kept.get(&"a", |_| true), None, "forgotten while not heard");
    }

    #[test]
    fn a_value_read_before_its_key_is_forgotten_is_not_kept_after_it() {
        let kept = heard();
        let before = kept.heard_so_far();
        kept.forget(&"a");
        kept.keep("a", 1, before);
        assert_eq!(kept.get(&"a", |_| true), None);
        // Another key's change does not stand in the way.
        kept.keep("b", 2, before);
        assert_eq!(kept.get(&"b", |_| true), Some(2));
        // Everything forgotten stands in the way of every key.
        let before = kept.heard_so_far();
        kept.forget_all();
        kept.keep("c", 3, before);
        assert_eq!(kept.get(&"c", |_| true), None);
        assert_eq!(kept.get(&"b", |_| true), None);
        // Read after the change: kept.
        kept.keep("a", 4, kept.heard_so_far());
        assert_eq!(kept.get(&"a", |_| true), Some(4));
    }

    #[test]
    fn a_value_is_used_only_while_it_is_good() {
        let kept = heard();
        kept.keep("a", 1, kept.heard_so_far());
        assert_eq!(kept.get(&"a", |&v| v > 1), None);
        assert_eq!(kept.get(&"a", |&v| v == 1), Some(1));
        kept.forget(&"a");
        assert_eq!(kept.get(&"a", |_| true), None);
    }

    #[test]
    fn past_the_most_kept_everything_is_forgotten() {
        let kept: Kept<usize, usize> = Kept::default();
        kept.hearing(true);
        for n in 0..MOST_KEPT {
            kept.keep(n, n, kept.heard_so_far());
        }
        assert_eq!(kept.get(&0, |_| true), Some(0));
        kept.keep(MOST_KEPT, MOST_KEPT, kept.heard_so_far());
        assert_eq!(kept.get(&0, |_| true), None);
        assert_eq!(kept.get(&MOST_KEPT, |_| true), Some(MOST_KEPT));
    }
}
