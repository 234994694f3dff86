//! Sign-ins a team server keeps in memory between calls, so that saying
//! who is calling costs no statement on the database: under load it was
//! one statement in four.
//!
//! A sign-in is kept only while the server hears the team database's
//! notices (`db::kept`). The database itself announces every change that
//! can end a sign-in or change whom it signs in (a sign-out, a new
//! password, a person deactivated, a role changed: the triggers of the
//! migration `sign_in_notices`), whichever computer makes it. A kept
//! sign-in is also read again once its "seen" is a minute or two old
//! ([`read_again_after`]), as its "seen" is then written, and whenever it
//! is past its end.

use super::store::SignInRow;
use crate::db::kept::Kept;
use chrono::{DateTime, Duration, Utc};

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

/// The sign-ins one process keeps, by their token's hash.
pub(crate) type SignIns = Kept<String, SignInRow>;

/// The sign-in `hash` names, when kept and still good at `now`.
pub(super) fn get(kept: &SignIns, hash: &str, now: DateTime<Utc>) -> Option<SignInRow> {
    kept.get(&hash.to_string(), |row| {
        now < row.expires_at && now - row.seen_at < read_again_after(hash)
    })
}

/// Acts on one notice's payload.
pub(crate) fn heard(kept: &SignIns, payload: &str) {
    if payload.is_empty() {
        kept.forget_all();
    } else {
        kept.forget(&payload.to_string());
    }
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
    fn a_notice_forgets_its_sign_in_or_every_one() {
        let kept = SignIns::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        for hash in ["a", "b"] {
            kept.keep(hash.into(), row(now), kept.heard_so_far());
        }
        heard(&kept, "a");
        assert!(get(&kept, "a", now).is_none());
        assert!(get(&kept, "b", now).is_some());
        heard(&kept, "");
        assert!(get(&kept, "b", now).is_none());
    }

    #[test]
    fn a_kept_sign_in_is_read_again_after_a_minute_and_past_its_end() {
        let kept = SignIns::default();
        kept.hearing(true);
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let mut ending = row(now);
        ending.expires_at = now + Duration::seconds(30);
        kept.keep("a".into(), row(now), kept.heard_so_far());
        kept.keep("e".into(), ending, kept.heard_so_far());
        let later = now + Duration::seconds(59);
        assert!(get(&kept, "a", later).is_some());
        assert!(get(&kept, "e", later).is_none());
        assert!(get(&kept, "a", now + read_again_after("a")).is_none());
        // Each sign-in its own interval, between one and two minutes.
        assert_eq!(read_again_after(&"0".repeat(64)), Duration::seconds(60));
        assert_eq!(read_again_after(&"f".repeat(64)), Duration::seconds(119));
        assert_eq!(
            read_again_after(&format!("80{}", "0".repeat(62))),
            Duration::seconds(90)
        );
    }
}
