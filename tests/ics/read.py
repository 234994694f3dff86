"""Reads an iCalendar text on standard input with Python's icalendar
package (Debian's python3-icalendar, run with /usr/bin/python3), an
implementation independent of Panelkeeper's, and prints what a calendar
would take from it as JSON: the method, and for each event its UID,
SEQUENCE, STATUS and start and end as UTC instants.
"""

import datetime
import json
import sys

from icalendar import Calendar

cal = Calendar.from_ical(sys.stdin.buffer.read())


def utc(value):
    if value.tzinfo is None:
        raise SystemExit(f"floating time {value}: no zone")
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


events = []
for event in cal.walk("VEVENT"):
    events.append({
        "uid": str(event.get("UID")),
        "sequence": int(event.get("SEQUENCE", 0)),
        "status": str(event.get("STATUS", "")),
        "start": utc(event.decoded("DTSTART")),
        "end": utc(event.decoded("DTEND")),
        "summary": str(event.get("SUMMARY", "")),
        "tzid": event["DTSTART"].params.get("TZID"),
    })
zones = [str(z.get("TZID")) for z in cal.walk("VTIMEZONE")]
print(json.dumps({"method": str(cal.get("METHOD", "")), "events": events, "timezones": zones}))
