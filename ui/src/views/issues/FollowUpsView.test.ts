import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import FollowUpsView from "./FollowUpsView.svelte";
import type { Issue } from "../../lib/bindings/Issue";
import type { Staff } from "../../lib/bindings/Staff";

const kim: Staff = { id: 1, name: "Kim Care", email: "kim@company.example.com", title: "support", role: "staff" as const, lead: null, timeZone: null, canSignIn: false, active: true };

function issue(id: number, summary: string): Issue {
  const later = new Date(Date.now() + 7 * 24 * 3600 * 1000).toISOString();
  return {
    id,
    session: 1,
    sessionTitle: "Delivery panel",
    participant: 1,
    participantName: "Zoë Ålander",
    participantEmail: "zoe@example.org",
    note: null,
    summary,
    detail: "",
    category: "delivery",
    severity: "normal",
    owner: 2,
    ownerName: "Ola Owner",
    status: "open",
    firstContactDue: later,
    resolutionDue: later,
    firstContactAt: null,
    resolvedAt: null,
    resolution: null,
    handoffs: 0,
    reopens: 0,
    reopenedAt: null,
    overdue: false,
    createdAt: new Date().toISOString(),
    waitingSince: null,
  };
}

/** Answers held back until released, to let a slow answer arrive after a quick one. */
let held: (() => void)[] = [];
/** The order each listing asked for. */
let sorts: string[] = [];

beforeEach(() => {
  held = [];
  sorts = [];
  mockCommands((cmd, args) => {
    if (cmd === "staff_list") return [kim];
    if (cmd === "staff_current") return new Promise((resolve) => held.push(() => resolve(kim)));
    if (cmd === "issues_mine") return [issue(1, "Mine only")];
    if (cmd === "issues_list") {
      sorts.push((args as { query: { sort: string } }).query.sort);
      return [issue(2, "Parcel lost")];
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("FollowUpsView", () => {
  it("sorts all issues by a column heading, asking the core for that order", async () => {
    render(FollowUpsView, {});
    await fireEvent.click(screen.getByTestId("tab-all"));
    await screen.findByTestId("issue-row");
    expect(sorts).toEqual(["urgent"]);
    await fireEvent.click(screen.getByTestId("sort-raised"));
    await waitFor(() => expect(sorts.at(-1)).toBe("newest"));
    expect(screen.getByTestId("sort-raised").closest("th")?.getAttribute("aria-sort")).toBe("descending");
    await fireEvent.click(screen.getByTestId("sort-raised"));
    await waitFor(() => expect(sorts.at(-1)).toBe("oldest"));
    await fireEvent.click(screen.getByTestId("sort-handoffs"));
    await waitFor(() => expect(sorts.at(-1)).toBe("mostHandoffs"));
    await fireEvent.click(screen.getByTestId("sort-due"));
    await waitFor(() => expect(sorts.at(-1)).toBe("urgent"));
  });

  it("keeps the tab chosen when the first tab's slower answer arrives after it", async () => {
    render(FollowUpsView, {});
    expect(screen.getByTestId("followups-loading").textContent).toContain("your follow-ups");
    await fireEvent.click(screen.getByTestId("tab-all"));
    const row = await screen.findByTestId("issue-row");
    expect(row.textContent).toContain("Parcel lost");

    for (const release of held) release();
    await new Promise((r) => setTimeout(r, 20));
    const rows = screen.getAllByTestId("issue-row");
    expect(rows.map((r) => r.textContent)).toEqual([expect.stringContaining("Parcel lost")]);
    expect(screen.queryByTestId("my-issue")).toBeNull();
  });

  it("says it is loading instead of showing the other tab's issues", async () => {
    render(FollowUpsView, {});
    await waitFor(() => expect(held.length).toBe(1));
    held[0]?.();
    await screen.findByTestId("my-issue");
    await fireEvent.click(screen.getByTestId("tab-all"));
    expect(screen.queryByTestId("my-issue")).toBeNull();
    await screen.findByTestId("issue-row");
    await fireEvent.click(screen.getByTestId("tab-mine"));
    expect(screen.getByTestId("followups-loading")).toBeTruthy();
    expect(screen.queryByTestId("issue-row")).toBeNull();
    await waitFor(() => expect(held.length).toBe(2));
    held[1]?.();
    expect((await screen.findByTestId("my-issue")).textContent).toContain("Mine only");
  });
});
