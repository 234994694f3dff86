//! Calendar invitations (iCalendar, RFC 5545) for sessions.
//!
//! An invitation is `METHOD:REQUEST`; an update is the same UID with a
//! higher `SEQUENCE`; a cancellation is `METHOD:CANCEL`. Times are written in
//! the session's own zone (`DTSTART;TZID=America/New_York:20270316T100000`)
//! with a `VTIMEZONE` that lists that zone's offset changes around the
//! session, computed from chrono-tz, so a calendar that does not know the
//! zone's rules still lands on the right instant across daylight-saving
//! changes.

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// Whether the calendar entry is being offered or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

/// What a calendar entry says.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub method: Method,
    pub uid: &'a str,
    pub sequence: i64,
    pub stamp: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub zone: Tz,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub organizer_name: &'a str,
    pub organizer_email: &'a str,
    pub attendee_name: &'a str,
    pub attendee_email: &'a str,
    /// The zone's definition from [`vtimezone`], made once for many invitations.
    pub vtimezone: &'a str,
}

/// The MIME type of the attachment for `method`.
pub fn content_type(method: Method) -> &'static str {
    match method {
        Method::Request => "text/calendar; method=REQUEST; charset=UTF-8",
        Method::Cancel => "text/calendar; method=CANCEL; charset=UTF-8",
    }
}

/// Escapes a TEXT value (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, without the characters a quoted value may not hold.
fn param(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control() && *c != '"').collect();
    format!("\"{clean}\"")
}

/// Folds a content line at 75 octets, never inside a UTF-8 character.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

fn local(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.abs();
    if s % 60 == 0 {
        format!("{sign}{:02}{:02}", s / 3600, (s % 3600) / 60)
    } else {
        format!("{sign}{:02}{:02}{:02}", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// One offset change of a zone.
#[derive(Debug, Clone, PartialEq)]
struct Transition {
    at: DateTime<Utc>,
    from: i32,
    to: i32,
    daylight: bool,
    name: String,
}

fn offset_at(zone: Tz, t: DateTime<Utc>) -> (i32, bool, String) {
    let o = zone.offset_from_utc_datetime(&t.naive_utc());
    (
        o.fix().local_minus_utc(),
        !o.dst_offset().is_zero(),
        o.abbreviation().unwrap_or("").to_string(),
    )
}

/// The zone's offset changes between `from` and `to`, to the second.
fn transitions(zone: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
    let mut out = Vec::new();
    let step = Duration::hours(12);
    let mut t = DateTime::from_timestamp(from.timestamp(), 0).expect("in range");
    while t < to {
        let next = t + step;
        let (a, _, _) = offset_at(zone, t);
        let (b, daylight, name) = offset_at(zone, next);
        if a != b {
            // The change lies in (t, next]: find its first second.
            let (mut lo, mut hi) = (t.timestamp(), next.timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                let at = DateTime::from_timestamp(mid, 0).expect("in range");
                if offset_at(zone, at).0 == a {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = DateTime::from_timestamp(hi, 0).expect("in range");
            out.push(Transition {
                at: hi,
                from: a,
                to: b,
                daylight,
                name,
            });
        }
        t = next;
    }
    out
}

/// The `VTIMEZONE` block for `zone`: its offset changes in the year or so
/// around `around`.
pub fn vtimezone(zone: Tz, around: DateTime<Utc>) -> String {
    let mut out = String::new();
    write_vtimezone(zone, around, &mut out);
    out
}

fn write_vtimezone(zone: Tz, around: DateTime<Utc>, out: &mut String) {
    fold("BEGIN:VTIMEZONE", out);
    fold(&format!("TZID:{}", zone.name()), out);
    let changes = transitions(
        zone,
        around - Duration::days(400),
        around + Duration::days(400),
    );
    if changes.is_empty() {
        let (o, daylight, name) = offset_at(zone, around);
        let kind = if daylight { "DAYLIGHT" } else { "STANDARD" };
        fold(&format!("BEGIN:{kind}"), out);
        fold("DTSTART:19700101T000000", out);
        fold(&format!("TZOFFSETFROM:{}", offset(o)), out);
        fold(&format!("TZOFFSETTO:{}", offset(o)), out);
        if !name.is_empty() {
            fold(&format!("TZNAME:{}", text(&name)), out);
        }
        fold(&format!("END:{kind}"), out);
    }
    for c in changes {
        let kind = if c.daylight { "DAYLIGHT" } else { "STANDARD" };
        // DTSTART is the wall-clock time of the change, in the offset before it.
        let wall = c.at.naive_utc() + Duration::seconds(c.from as i64);
        fold(&format!("BEGIN:{kind}"), out);
        fold(&format!("DTSTART:{}", local(wall)), out);
        fold(&format!("TZOFFSETFROM:{}", offset(c.from)), out);
        fold(&format!("TZOFFSETTO:{}", offset(c.to)), out);
        if !c.name.is_empty() {
            fold(&format!("TZNAME:{}", text(&c.name)), out);
        }
        fold(&format!("END:{kind}"), out);
    }
    fold("END:VTIMEZONE", out);
}

/// The `.ics` text for `event`, with CRLF line ends.
pub fn calendar(event: &Event<'_>) -> String {
    let mut out = String::new();
    let zone = event.zone;
    let method = match event.method {
        Method::Request => "REQUEST",
        Method::Cancel => "CANCEL",
    };
    fold("BEGIN:VCALENDAR", &mut out);
    fold("VERSION:2.0", &mut out);
    fold("PRODID:-//Panelkeeper//Panelkeeper//EN", &mut out);
    fold("CALSCALE:GREGORIAN", &mut out);
    fold(&format!("METHOD:{method}"), &mut out);
    out.push_str(event.vtimezone);
    fold("BEGIN:VEVENT", &mut out);
    fold(&format!("UID:{}", event.uid), &mut out);
    fold(&format!("SEQUENCE:{}", event.sequence), &mut out);
    fold(&format!("DTSTAMP:{}", utc(event.stamp)), &mut out);
    let start = event.starts_at.with_timezone(&zone).naive_local();
    let end = event.ends_at.with_timezone(&zone).naive_local();
    fold(
        &format!("DTSTART;TZID={}:{}", zone.name(), local(start)),
        &mut out,
    );
    fold(
        &format!("DTEND;TZID={}:{}", zone.name(), local(end)),
        &mut out,
    );
    fold(&format!("SUMMARY:{}", text(event.summary)), &mut out);
    if !event.location.is_empty() {
        fold(&format!("LOCATION:{}", text(event.location)), &mut out);
    }
    if !event.description.is_empty() {
        fold(
            &format!("DESCRIPTION:{}", text(event.description)),
            &mut out,
        );
    }
    fold(
        &format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(event.organizer_name),
            event.organizer_email
        ),
        &mut out,
    );
    let partstat = match event.method {
        Method::Request => ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE",
        Method::Cancel => "",
    };
    fold(
        &format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT{partstat}:mailto:{}",
            param(event.attendee_name),
            event.attendee_email
        ),
        &mut out,
    );
    let status = match event.method {
        Method::Request => "CONFIRMED",
        Method::Cancel => "CANCELLED",
    };
    fold(&format!("STATUS:{status}"), &mut out);
    fold("END:VEVENT", &mut out);
    fold("END:VCALENDAR", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn new_york_changes_twice_a_year_at_two_in_the_morning() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let changes = transitions(ny, at("2027-01-01T00:00:00Z"), at("2027-12-31T00:00:00Z"));
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].at, at("2027-03-14T07:00:00Z"));
        assert_eq!(
            (changes[0].from, changes[0].to, changes[0].daylight),
            (-5 * 3600, -4 * 3600, true)
        );
        assert_eq!(changes[0].name, "EDT");
        assert_eq!(changes[1].at, at("2027-11-07T06:00:00Z"));
        assert!(!changes[1].daylight);
    }

    #[test]
    fn a_zone_without_changes_has_one_standard_component() {
        let out = vtimezone("Asia/Tokyo".parse().unwrap(), at("2027-03-16T01:00:00Z"));
        assert!(out.contains("BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\nTZNAME:JST\r\n"), "{out}");
    }

    #[test]
    fn an_invitation_names_the_zone_and_escapes_and_folds_text() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let zone_text = vtimezone(ny, at("2027-03-16T14:00:00Z"));
        let ics = calendar(&Event {
            method: Method::Request,
            uid: "session-7@panelkeeper",
            sequence: 2,
            stamp: at("2027-03-01T12:00:00Z"),
            starts_at: at("2027-03-16T14:00:00Z"),
            ends_at: at("2027-03-16T15:30:00Z"),
            zone: "America/New_York".parse().unwrap(),
            summary: "Checkout; returns, and more",
            location: "Room 4\nFloor 2",
            description: &"Ünïcödé ".repeat(30),
            organizer_name: "Panel \"Research\"",
            organizer_email: "research@example.com",
            attendee_name: "Zoë",
            attendee_email: "zoe@example.org",
            vtimezone: &zone_text,
        });
        assert!(ics.contains("DTSTART;TZID=America/New_York:20270316T100000\r\n"));
        assert!(ics.contains("DTEND;TZID=America/New_York:20270316T113000\r\n"));
        assert!(ics.contains("SEQUENCE:2\r\n") && ics.contains("METHOD:REQUEST\r\n"));
        assert!(ics.contains("SUMMARY:Checkout\\; returns\\, and more\r\n"));
        assert!(ics.contains("LOCATION:Room 4\\nFloor 2\r\n"));
        assert!(ics.contains("ORGANIZER;CN=\"Panel Research\":mailto:research@example.com"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?} is {} octets", line.len());
        }
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
    }
}
