// The calendar's arithmetic, apart from its drawing: which days a view
// shows, where each session falls on them in the viewer's zone, and how
// sessions at the same time share a column. Days are "YYYY-MM-DD" strings
// (a date on the viewer's calendar, no instant); minutes count from that
// day's midnight in the viewer's zone.

import type { Session } from "../../lib/bindings/Session";

export type View = "day" | "week" | "month";

const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    formats.set(zone, f);
  }
  return f;
}

/** The day and the minutes after its midnight that `instant` is in `zone`. */
export function zoned(instant: string | Date, zone: string): { day: string; minutes: number } {
  const parts: Record<string, string> = {};
  for (const p of format(zone).formatToParts(new Date(instant))) parts[p.type] = p.value;
  return {
    day: `${parts.year}-${parts.month}-${parts.day}`,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

function utc(day: string): Date {
  const [y = 1970, m = 1, d = 1] = day.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

const iso = (d: Date) => d.toISOString().slice(0, 10);

/** The day `n` days after `day` (before, when negative). */
export function addDays(day: string, n: number): string {
  const d = utc(day);
  d.setUTCDate(d.getUTCDate() + n);
  return iso(d);
}

/** The Monday of `day`'s week. */
export function mondayOf(day: string): string {
  return addDays(day, -((utc(day).getUTCDay() + 6) % 7));
}

/** The day a period away from `day` in `view` (a month keeps the day of the month where it can). */
export function step(view: View, day: string, n: number): string {
  if (view === "day") return addDays(day, n);
  if (view === "week") return addDays(day, 7 * n);
  const d = utc(day);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), last));
  return iso(target);
}

/** The days `view` shows around `day`: the day; its week from Monday; its
 * month's weeks, Monday to Sunday, whole. */
export function daysShown(view: View, day: string): string[] {
  if (view === "day") return [day];
  if (view === "week") {
    const monday = mondayOf(day);
    return Array.from({ length: 7 }, (_, i) => addDays(monday, i));
  }
  const d = utc(day);
  const first = iso(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)));
  const last = iso(new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)));
  const out: string[] = [];
  for (let x = mondayOf(first); x <= last || out.length % 7 !== 0; x = addDays(x, 1)) out.push(x);
  return out;
}

/** The instants to ask for so that every session on `days` in any zone is
 * among the answer (a zone is at most 14 hours from UTC). */
export function span(days: string[]): { from: string; to: string } {
  return {
    from: new Date(utc(days[0]!).getTime() - 24 * 3600 * 1000).toISOString(),
    to: new Date(utc(days.at(-1)!).getTime() + 2 * 24 * 3600 * 1000).toISOString(),
  };
}

/** A session where it falls on a day: from `start` to `end` minutes (cut
 * at midnight), in `lane` of `lanes` columns shared with those it overlaps. */
export type Placed = { session: Session; start: number; end: number; lane: number; lanes: number };

/** The sessions on each of `days` in `zone`, each day's in order of their
 * start on the viewer's clock (then title), overlapping ones side by side. */
export function place(sessions: Session[], days: string[], zone: string): Map<string, Placed[]> {
  const out = new Map<string, Placed[]>(days.map((d) => [d, []]));
  for (const s of sessions) {
    const from = zoned(s.startsAt, zone);
    const list = out.get(from.day);
    if (!list) continue;
    const to = zoned(s.endsAt, zone);
    const end = to.day === from.day ? Math.max(to.minutes, from.minutes + 15) : 24 * 60;
    list.push({ session: s, start: from.minutes, end: Math.min(end, 24 * 60), lane: 0, lanes: 1 });
  }
  for (const list of out.values()) {
    list.sort((a, b) => a.start - b.start || a.end - b.end || a.session.title.localeCompare(b.session.title));
    lay(list);
  }
  return out;
}

/** Gives overlapping sessions lanes: each joins the first lane free at its
 * start; every session in a cluster of overlaps shares its lane count. */
function lay(list: Placed[]) {
  let cluster: Placed[] = [];
  let clusterEnd = -1;
  const close = () => {
    const lanes = Math.max(1, ...cluster.map((p) => p.lane + 1));
    for (const p of cluster) p.lanes = lanes;
    cluster = [];
  };
  let laneEnds: number[] = [];
  for (const p of list) {
    if (p.start >= clusterEnd) {
      close();
      laneEnds = [];
    }
    let lane = laneEnds.findIndex((end) => end <= p.start);
    if (lane === -1) lane = laneEnds.length;
    laneEnds[lane] = p.end;
    p.lane = lane;
    cluster.push(p);
    clusterEnd = Math.max(clusterEnd, p.end);
  }
  close();
}

/** "09:30" from minutes after midnight. */
export function clock(minutes: number): string {
  const m = Math.min(minutes, 24 * 60 - 1);
  return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** A heading for the period `view` shows around `day`. */
export function periodTitle(view: View, day: string): string {
  const d = utc(day);
  const options = (o: Intl.DateTimeFormatOptions) => d.toLocaleDateString(undefined, { ...o, timeZone: "UTC" });
  if (view === "day") return options({ weekday: "long", day: "numeric", month: "long", year: "numeric" });
  if (view === "month") return options({ month: "long", year: "numeric" });
  const days = daysShown("week", day);
  const first = utc(days[0]!);
  const last = utc(days[6]!);
  const f = (x: Date, o: Intl.DateTimeFormatOptions) => x.toLocaleDateString(undefined, { ...o, timeZone: "UTC" });
  return `${f(first, { day: "numeric", month: "short" })} – ${f(last, { day: "numeric", month: "short", year: "numeric" })}`;
}

/** A day's name for a column or cell heading: in full for a day's page,
 *  else its weekday and date ("Tue 14"), the period's heading naming the
 *  month, so that a week's columns stay readable from 960 pixels up. */
export function dayName(day: string, long = false): string {
  if (!long) return `${weekday(day)} ${Number(day.slice(8, 10))}`;
  return utc(day).toLocaleDateString(undefined, {
    weekday: "long",
    day: "numeric",
    month: "long",
    timeZone: "UTC",
  });
}

/** A day's weekday, short ("Mon"). */
export function weekday(day: string): string {
  return utc(day).toLocaleDateString(undefined, { weekday: "short", timeZone: "UTC" });
}
