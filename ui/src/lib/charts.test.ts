import { describe, expect, it } from "vitest";
import { byOwner, handoffs, timesByWeek, type Palette } from "./charts";

const p: Palette = { text: "#111", muted: "#555", line: "#eee", resolved: "#0a0", open: "#00a", overdue: "#a00", accent: "#036" };

describe("charts", () => {
  it("stacks each owner's resolved, open in time and overdue promises", () => {
    const d = byOwner([{ owner: "Kim Care", open: 3, overdue: 1, resolved: 4 }], p);
    expect(d.config.data.labels).toEqual(["Kim Care"]);
    expect(d.config.data.datasets.map((s) => s.data)).toEqual([[4], [2], [1]]);
    expect(d.config.data.datasets.map((s) => s.backgroundColor)).toEqual(["#0a0", "#00a", "#a00"]);
  });

  it("leaves a gap for a week with nothing to measure, and says so", () => {
    const d = timesByWeek(
      [
        { label: "1 Jun", firstContactHours: 2.04, resolutionDays: null },
        { label: "8 Jun", firstContactHours: 30, resolutionDays: 1.25 },
      ],
      p,
    );
    expect(d.config.data.datasets[0]!.data).toEqual([2, 30]);
    expect(d.config.data.datasets[1]!.data).toEqual([null, 1.3]);
    expect(d.words).toContain("week of 1 Jun, first contact 2 hours, resolution none yet");
  });

  it("colours issues handed off more than once as a warning", () => {
    const d = handoffs(
      [
        { handoffs: 0, issues: 5 },
        { handoffs: 1, issues: 2 },
        { handoffs: 2, issues: 0 },
        { handoffs: 3, issues: 1 },
      ],
      p,
    );
    expect(d.config.data.labels).toEqual(["none", "once", "twice", "3 times"]);
    expect(d.config.data.datasets[0]!.backgroundColor).toEqual(["#0a0", "#00a", "#a00", "#a00"]);
    expect(d.words).toBe("Issues by how often they were handed off: none, 5 issues; once, 2 issues; twice, 0 issues; 3 times, 1 issue");
  });
});
