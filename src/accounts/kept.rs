//! Sign-ins a team server keeps in memory between calls, so that saying
//! who is calling costs no statement on the database: under load it was
//! one statement in four.
//!
//! A sign-in is kept only while the server hears the team database's
//! notices. The database itself announces every change that can end a
//! sign-in or change whom it signs in (a sign-out, a new password, a
//! person deactivated, a role changed: the triggers of the migration
//! `sign_in_notices`), whichever computer makes it, and each server
//! forgets what it kept as it hears one. A server that loses the
//! connection the notices come on forgets everything and keeps nothing
//! until it has the connection back. A kept sign-in is also read again
//! once its "seen" is a minute or two old ([`read_again_after`]), as its
//! "seen" is then written, and whenever it is past its end. A panel file is never kept: there is no
//! one to announce its changes, and reading it costs no round trip.

use super::store::SignInRow;
use crate::Panel;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The channel the team database announces changes to sign-ins on: the
/// payload is the hash of a sign-in that ended, or empty when a staff
/// member changed (each of their sign-ins is forgotten).
pub(crate) const CHANNEL: &str = "panelkeeper_sign_ins";

/// How long after its "seen" was last written a sign-in is read again from
/// the database (and its "seen" written): between one and two minutes, the
/// same for a sign-in each time, different between sign-ins, so that a
/// whole office signed in at once is not read again all in one moment.
pub(super) fn read_again_after(hash: &str) -> Duration {
    let spread = u8::from_str_radix(hash.get(..2).unwrap_or("0"), 16).unwrap_or(0);
    Duration::seconds(60 + i64::from(spread) * 60 / 256)
}

/// At most this many sign-ins are kept; past it all are forgotten at once
/// (the live ones are read again on their next call).
const MOST_KEPT: usize = 100_000;

/// The sign-ins one process keeps, shared by every handle on its panel.
#[derive(Default)]
pub(crate) struct Kept {
    rows: Mutex<HashMap<String, SignInRow>>,
    /// Counts what was heard (and losing the connection): a sign-in read
    /// before a notice is heard is not kept after it.
    heard: AtomicU64,
    hearing: AtomicBool,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("hearing", &self.hearing.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Kept {
    /// The sign-in `hash` names, when kept and still good at `now`.
    pub(super) fn get(&self, hash: &str, now: DateTime<Utc>) -> Option<SignInRow> {
        if !self.hearing.load(Ordering::Acquire) {
            return None;
        }
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(hash)
            .filter(|row| now < row.expires_at && now - row.seen_at < read_again_after(hash))
            .cloned()
    }

    /// What has been heard so far, taken before a sign-in is read.
    pub(super) fn heard_so_far(&self) -> u64 {
        self.heard.load(Ordering::Acquire)
    }

    /// Keeps `row`, read when [`Kept::heard_so_far`] said `heard`: not if
    /// anything was heard since, as it may have been read before the change.
    pub(super) fn keep(&self, hash: String, row: SignInRow, heard: u64) {
        if !self.hearing.load(Ordering::Acquire) {
            return;
        }
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        if self.heard.load(Ordering::Acquire) != heard {
            return;
        }
        if rows.len() >= MOST_KEPT {
            rows.clear();
        }
        rows.insert(hash, row);
    }

    /// Forgets one sign-in (ended on this computer, or announced).
    pub(super) fn forget(&self, hash: &str) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        self.heard.fetch_add(1, Ordering::AcqRel);
        rows.remove(hash);
    }

    /// Forgets every sign-in (a person changed on this computer, or
    /// announced).
    pub(crate) fn forget_all(&self) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        self.heard.fetch_add(1, Ordering::AcqRel);
        rows.clear();
    }

    fn hearing(&self, on: bool) {
        self.forget_all();
        self.hearing.store(on, Ordering::Release);
    }

    /// Acts on one notice's payload.
    fn heard(&self, payload: &str) {
        if payload.is_empty() {
            self.forget_all();
        } else {
            self.forget(payload);
        }
    }
}

/// Hears the team database's notices of changed sign-ins until `stop`
/// completes, keeping sign-ins meanwhile; a lost connection is opened
/// again after a second. A panel file returns at once, keeping nothing.
pub async fn hear_changes(panel: &Panel, stop: impl std::future::Future<Output = ()>) {
    let kept = panel.kept_sign_ins();
    let mut stop = std::pin::pin!(stop);
    // Told once each time the notices are lost, not every second after.
    let mut told = false;
    loop {
        let listener = tokio::select! {
            _ = &mut stop => return,
            opened = panel.store().listener(CHANNEL) => opened,
        };
        match listener {
            Ok(None) => return,
            Ok(Some(mut listener)) => {
                kept.hearing(true);
                loop {
                    let notice = tokio::select! {
                        _ = &mut stop => {
                            kept.hearing(false);
                            return;
                        }
                        notice = listener.try_recv() => notice,
                    };
                    match notice {
                        Ok(Some(notice)) => kept.heard(notice.payload()),
                        Ok(None) | Err(_) => break,
                    }
                }
                kept.hearing(false);
                tracing::warn!("the team database's notices of sign-ins were cut off");
                told = true;
            }
            Err(e) if !told => {
                tracing::warn!("the team database's notices of sign-ins cannot be heard: {e}");
                told = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}

/// Whether this process keeps sign-ins now (it hears the notices).
pub fn keeps_sign_ins(panel: &Panel) -> bool {
    panel.kept_sign_ins().hearing.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::staff::{Role, Staff, StaffId};
    use chrono::TimeZone;

    fn row(seen_at: DateTime<Utc>) -> SignInRow {
        SignInRow {
            staff: Staff {
                id: StaffId(1),
                name: "Kim".into(),
                email: "kim@company.example.com".into(),
                title: String::new(),
                role: Role::Staff,
                lead: None,
                time_zone: None,
                can_sign_in: true,
                active: true,
            },
            csrf: "c".into(),
            created_at: seen_at,
            seen_at,
            expires_at: seen_at + Duration::hours(12),
        }
    }

    #[test]
    fn nothing_is_kept_unless_the_notices_are_heard() {
        let kept = Kept::default();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        kept.keep("a".into(), row(now), kept.heard_so_far());
        assert!(kept.get("a", now).is_none());
        kept.hearing(true);
        kept.keep("a".into(), row(now), kept.heard_so_far());
        assert!(kept.get("a", now).is_some());
        kept.hearing(false);
        assert!(kept.get("a", now).is_none());
    }

    #[test]
    fn a_sign_in_read_before_a_notice_is_not_kept_after_it() {
        let kept = Kept::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let before = kept.heard_so_far();
        kept.heard("b");
        kept.keep("a".into(), row(now), before);
        assert!(kept.get("a", now).is_none());
    }

    #[test]
    fn a_notice_forgets_its_sign_in_or_every_one() {
        let kept = Kept::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        for hash in ["a", "b"] {
            kept.keep(hash.into(), row(now), kept.heard_so_far());
        }
        kept.heard("a");
        assert!(kept.get("a", now).is_none());
        assert!(kept.get("b", now).is_some());
        kept.heard("");
        assert!(kept.get("b", now).is_none());
    }

    #[test]
    fn a_kept_sign_in_is_read_again_after_a_minute_and_past_its_end() {
        let kept = Kept::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let mut ending = row(now);
        ending.expires_at = now + Duration::seconds(30);
        kept.keep("a".into(), row(now), kept.heard_so_far());
        kept.keep("e".into(), ending, kept.heard_so_far());
        let later = now + Duration::seconds(59);
        assert!(kept.get("a", later).is_some());
        assert!(kept.get("e", later).is_none());
        assert!(kept.get("a", now + read_again_after("a")).is_none());
        // Each sign-in its own interval, between one and two minutes.
        assert_eq!(read_again_after(&"0".repeat(64)), Duration::seconds(60));
        assert_eq!(read_again_after(&"f".repeat(64)), Duration::seconds(119));
        assert_eq!(
            read_again_after(&format!("80{}", "0".repeat(62))),
            Duration::seconds(90)
        );
    }
}
