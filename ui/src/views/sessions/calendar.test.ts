import { describe, expect, it } from "vitest";
import { addDays, dayName, daysShown, mondayOf, place, span, step, weekday, zoned } from "./calendar";
import type { Session } from "../../lib/bindings/Session";

const staff = { id: 1, name: "Ana", email: "ana@example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };

function session(id: number, title: string, startsAt: string, minutes: number, timeZone: string): Session {
  return {
    id, uid: `${id}@panelkeeper`, study: "", title, startsAt, endsAt: new Date(Date.parse(startsAt) + minutes * 60_000).toISOString(),
    attendanceFrom: startsAt, timeZone, localStart: "", place: "", moderator: staff, observers: [], seats: 8, overRecruit: 8,
    floaters: 0, sequence: 0, status: "scheduled", cancelReason: null, screener: null,
    counts: { invited: 0, confirmed: 0, tentative: 0, declined: 0, waitlisted: 0, attended: 0, noShows: 0 },
    completedAt: null, unownedIssues: 0, consentTopic: null,
  };
}

describe("zoned", () => {
  it("reads an instant on the viewer's clock, summer time included", () => {
    expect(zoned("2027-03-16T00:30:00Z", "Asia/Tokyo")).toEqual({ day: "2027-03-16", minutes: 9 * 60 + 30 });
    expect(zoned("2027-03-16T00:30:00Z", "America/New_York")).toEqual({ day: "2027-03-15", minutes: 20 * 60 + 30 });
    // Berlin moves its clocks on 28 March 2027.
    expect(zoned("2027-03-27T09:00:00Z", "Europe/Berlin").minutes).toBe(10 * 60);
    expect(zoned("2027-03-29T09:00:00Z", "Europe/Berlin").minutes).toBe(11 * 60);
  });
});

describe("days shown", () => {
  it("names a week's columns short, by weekday and date", () => {
    expect(dayName("2027-12-14")).toBe(`${weekday("2027-12-14")} 14`);
    expect(dayName("2027-12-05")).toMatch(/ 5$/);
    expect(dayName("2027-12-14", true)).toContain("14");
  });

  it("gives a day, a week from Monday, and a month's whole weeks", () => {
    expect(daysShown("day", "2027-03-17")).toEqual(["2027-03-17"]);
    expect(mondayOf("2027-03-21")).toBe("2027-03-15");
    expect(daysShown("week", "2027-03-17")).toEqual(["2027-03-15", "2027-03-16", "2027-03-17", "2027-03-18", "2027-03-19", "2027-03-20", "2027-03-21"]);
    const march = daysShown("month", "2027-03-17");
    expect(march[0]).toBe("2027-03-01");
    expect(march.at(-1)).toBe("2027-04-04");
    expect(march.length % 7).toBe(0);
    const february = daysShown("month", "2027-02-10");
    expect(february[0]).toBe("2027-02-01");
    expect(february.at(-1)).toBe("2027-02-28");
  });

  it("steps a period at a time, a month keeping its day where it can", () => {
    expect(step("day", "2027-02-28", 1)).toBe("2027-03-01");
    expect(step("week", "2027-03-17", -1)).toBe("2027-03-10");
    expect(step("month", "2027-01-31", 1)).toBe("2027-02-28");
    expect(step("month", "2027-03-15", -3)).toBe("2026-12-15");
    expect(addDays("2027-12-31", 1)).toBe("2028-01-01");
  });

  it("asks for enough to hold sessions planned in any zone", () => {
    expect(span(["2027-03-15", "2027-03-21"])).toEqual({ from: "2027-03-14T00:00:00.000Z", to: "2027-03-23T00:00:00.000Z" });
  });
});

describe("place", () => {
  const days = daysShown("week", "2027-03-16");
  // Three sessions on one day in Berlin's eyes, each planned in its own zone.
  const sessions = [
    session(1, "Chicago group", "2027-03-16T15:00:00Z", 60, "America/Chicago"), // 16:00 Berlin, 10:00 Chicago
    session(2, "Tokyo group", "2027-03-16T08:00:00Z", 90, "Asia/Tokyo"), // 09:00 Berlin, 17:00 Tokyo
    session(3, "Berlin group", "2027-03-16T16:30:00Z", 60, "Europe/Berlin"), // 17:30 Berlin
  ];

  it("orders a day's sessions by the viewer's clock, whatever zone each was planned in", () => {
    const placed = place(sessions, days, "Europe/Berlin");
    expect(placed.get("2027-03-16")!.map((p) => [p.session.title, p.start])).toEqual([
      ["Tokyo group", 9 * 60],
      ["Chicago group", 16 * 60],
      ["Berlin group", 17 * 60 + 30],
    ]);
  });

  it("puts a session on the day it falls on in the viewer's zone", () => {
    const placed = place(sessions, days, "Asia/Tokyo");
    expect(placed.get("2027-03-16")!.map((p) => p.session.title)).toEqual(["Tokyo group"]);
    expect(placed.get("2027-03-17")!.map((p) => p.session.title)).toEqual(["Chicago group", "Berlin group"]);
  });

  it("sets overlapping sessions side by side and lets the others have the whole width", () => {
    const overlapping = [
      session(1, "A", "2027-03-16T09:00:00Z", 120, "UTC"),
      session(2, "B", "2027-03-16T10:00:00Z", 60, "UTC"),
      session(3, "C", "2027-03-16T10:30:00Z", 60, "UTC"),
      session(4, "D", "2027-03-16T14:00:00Z", 60, "UTC"),
    ];
    const placed = place(overlapping, days, "UTC").get("2027-03-16")!;
    expect(placed.map((p) => [p.session.title, p.lane, p.lanes])).toEqual([
      ["A", 0, 3],
      ["B", 1, 3],
      ["C", 2, 3],
      ["D", 0, 1],
    ]);
  });

  it("cuts a session that runs past midnight at the end of its day", () => {
    const late = [session(1, "Late", "2027-03-16T23:00:00Z", 120, "UTC")];
    const placed = place(late, days, "UTC").get("2027-03-16")!;
    expect([placed[0]!.start, placed[0]!.end]).toEqual([23 * 60, 24 * 60]);
  });
});
