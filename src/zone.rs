//! An IANA time zone, checked once: [`TimeZone`] holds a zone the tz
//! database knows, so code that has one never falls back to UTC. A name
//! read back from the database is checked again by [`TimeZone::stored`];
//! a zone this version's tz database does not know (a renamed or removed
//! zone, a database written by a newer version) is an error that names it,
//! never a wrong time in an invitation or a report.

use crate::{Error, Result};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A time zone the tz database knows, by its IANA name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZone(Tz);

impl TimeZone {
    /// UTC.
    pub const UTC: TimeZone = TimeZone(Tz::UTC);

    /// Parses a zone as a person typed it (`Europe/Berlin`, case aside).
    pub fn parse(raw: &str) -> Result<TimeZone> {
        let s = raw.trim();
        // Most names are spelled exactly; the exact lookup is the quicker one.
        s.parse::<Tz>()
            .or_else(|_| Tz::from_str_insensitive(s))
            .map(TimeZone)
            .map_err(|_| {
                Error::invalid(
                    "time zone",
                    raw,
                    "is not an IANA time zone name such as Europe/Berlin",
                )
            })
    }

    /// A zone name read back from storage, for `what` (such as "session
    /// 12"): an error naming both when the tz database does not know it.
    pub fn stored(name: &str, what: &str) -> Result<TimeZone> {
        name.parse::<Tz>().map(TimeZone).map_err(|_| {
            Error::conflict(format!(
                "the time zone {name:?} of {what} is not in this version's time-zone database; \
                 no time is shown in a zone it cannot compute: choose the zone again"
            ))
        })
    }

    /// The zone's canonical IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The zone, for chrono's conversions.
    pub fn tz(self) -> Tz {
        self.0
    }
}

impl std::fmt::Display for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for TimeZone {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<TimeZone, D::Error> {
        let name = String::deserialize(d)?;
        TimeZone::parse(&name).map_err(serde::de::Error::custom)
    }
}

impl ts_rs::TS for TimeZone {
    type WithoutGenerics = TimeZone;
    type OptionInnerType = TimeZone;

    fn name(_: &ts_rs::Config) -> String {
        "string".into()
    }

    fn inline(_: &ts_rs::Config) -> String {
        "string".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_is_checked_once_and_named_when_unknown() {
        assert_eq!(
            TimeZone::parse(" europe/berlin ").unwrap().name(),
            "Europe/Berlin"
        );
        let e = TimeZone::parse("Mars/Olympus_Mons").unwrap_err();
        assert!(e.to_string().contains("Mars/Olympus_Mons"), "{e}");
        let e = TimeZone::stored("Europe/Atlantis", "session 12").unwrap_err();
        let said = e.to_string();
        assert!(
            said.contains("Europe/Atlantis") && said.contains("session 12"),
            "{said}"
        );
        assert_eq!(
            serde_json::to_string(&TimeZone::parse("Asia/Tokyo").unwrap()).unwrap(),
            "\"Asia/Tokyo\""
        );
        assert!(serde_json::from_str::<TimeZone>("\"Nowhere/Else\"").is_err());
    }
}
