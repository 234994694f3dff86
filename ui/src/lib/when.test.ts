import { describe, expect, it } from "vitest";
import { findZones, parseClock, parseDay } from "./when";

describe("parseDay", () => {
  it("reads the ways people write a day, and refuses days that do not exist", () => {
    for (const typed of ["2027-03-16", "2027-3-16", "16.03.2027", "16/3/2027", "20270316"]) {
      expect(parseDay(typed), typed).toBe("2027-03-16");
    }
    for (const typed of ["2027-02-30", "31.04.2027", "16-03", "", "tomorrow"]) {
      expect(parseDay(typed), typed).toBeNull();
    }
  });
});

describe("parseClock", () => {
  it("reads the ways people write a time of day", () => {
    const cases: [string, string][] = [["10", "10:00"], ["10:30", "10:30"], ["1030", "10:30"], ["9.05", "09:05"], ["9am", "09:00"], ["2:30 pm", "14:30"], ["12am", "00:00"], ["12pm", "12:00"], ["23h15", "23:15"]];
    for (const [typed, want] of cases) expect(parseClock(typed), typed).toBe(want);
    for (const typed of ["24:00", "10:60", "13pm", "", "noon"]) expect(parseClock(typed), typed).toBeNull();
  });
});

describe("findZones", () => {
  const names = ["America/New_York", "America/Chicago", "Asia/Tokyo", "Europe/Berlin", "America/Argentina/Buenos_Aires"];
  it("finds a zone by its city or region, typed as people write it", () => {
    expect(findZones("tokyo", names)).toEqual(["Asia/Tokyo"]);
    expect(findZones("new york", names)).toEqual(["America/New_York"]);
    expect(findZones("buenos", names)).toEqual(["America/Argentina/Buenos_Aires"]);
    expect(findZones("america", names)).toHaveLength(3);
    expect(findZones("", names)).toEqual([]);
  });
});
