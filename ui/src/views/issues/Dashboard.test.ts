import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import Dashboard from "./Dashboard.svelte";
import type { FollowUpFigures } from "../../lib/bindings/FollowUpFigures";
import type { Issue } from "../../lib/bindings/Issue";

const hostile = "<img src=x onerror=alert(1)>";

function issue(id: number): Issue {
  const at = "2026-06-02T10:00:00Z";
  return {
    id, session: 1, sessionTitle: "Delivery", participant: 1, participantName: hostile, participantEmail: null, note: null,
    summary: `Parcel ${id}`, detail: "", category: "", severity: "normal", owner: 2, ownerName: "Sam Owner", status: "open",
    firstContactDue: at, resolutionDue: at, firstContactAt: null, resolvedAt: null, resolution: null, handoffs: 0, reopens: 0,
    reopenedAt: null, overdue: true, createdAt: at, waitingSince: null,
  };
}

const figures: FollowUpFigures = {
  from: "2026-06-01", to: "2026-06-30", raised: 3, open: 2, overdue: 2, medianFirstContactHours: 1.5,
  medianResolutionDays: 1.2, medianHandoffs: 0, meanHandoffs: 0.33, reopenedIssues: 0, reopens: 0,
  byOwner: [
    { owner: "Sam Owner", open: 2, overdue: 2, resolved: 0 },
    { owner: "Kim Care", open: 0, overdue: 0, resolved: 1 },
  ],
  byWeek: [{ week: "2026-06-01", raised: 3, medianFirstContactHours: 1.5, medianResolutionDays: 1.2 }],
  handoffCounts: [{ handoffs: 0, issues: 2 }, { handoffs: 1, issues: 1 }],
  oldestOpen: [issue(1), issue(2)],
};

let asked: [string, string][] = [];

beforeEach(() => {
  asked = [];
  mockCommands((cmd, args) => {
    if (cmd === "follow_up_figures") {
      const a = args as { from: string; to: string };
      asked.push([a.from, a.to]);
      if (a.to < a.from) throw { kind: "InvalidInput", field: "to", value: a.to, reason: `is before the start of the range, ${a.from}` };
      return figures;
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("Dashboard", () => {
  it("shows the period's figures, owners and weeks, and opens an old promise", async () => {
    const opened: number[] = [];
    const { container } = render(Dashboard, { from: "2026-06-01", to: "2026-06-30", onOpen: (id: number) => opened.push(id) });
    expect((await screen.findByTestId("fig-raised")).textContent).toBe("3");
    expect(screen.getByTestId("fig-open").textContent).toContain("2 overdue");
    expect(screen.getByTestId("fig-first-contact").textContent).toBe("1.5 hours");
    expect(screen.getByTestId("fig-resolution").textContent).toBe("1.2 days");
    expect(screen.getByTestId("dashboard-owners").textContent).toContain("Kim Care");
    expect(screen.getByTestId("dashboard-weeks").querySelectorAll("tbody tr")).toHaveLength(1);
    expect(container.querySelector("img")).toBeNull();
    // Each chart says what it shows in words.
    expect(screen.getByTestId("chart-owners").getAttribute("aria-label")).toContain("Sam Owner, 0 resolved, 2 open, 2 overdue");
    expect(screen.getByTestId("chart-handoffs").getAttribute("aria-label")).toBe(
      "Issues by how often they were handed off: none, 2 issues; once, 1 issue",
    );
    expect(screen.getByTestId("chart-times").getAttribute("aria-label")).toContain("first contact 1.5 hours, resolution 1.2 days");
    await fireEvent.click(screen.getByText("#2 Parcel 2"));
    expect(opened).toEqual([2]);
    expect(asked).toEqual([["2026-06-01", "2026-06-30"]]);
  });

  it("says what is wrong with a period that ends before it starts", async () => {
    render(Dashboard, { from: "2026-06-30", to: "2026-06-01" });
    expect((await screen.findByTestId("dashboard-error")).textContent).toContain("is before the start of the range");
  });

  it("reads the figures again when the period changes", async () => {
    render(Dashboard, { from: "2026-06-01", to: "2026-06-30" });
    await screen.findByTestId("fig-raised");
    await fireEvent.input(screen.getByTestId("dashboard-to"), { target: { value: "2026-07-31" } });
    await waitFor(() => expect(asked.at(-1)).toEqual(["2026-06-01", "2026-07-31"]));
  });
});
