import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import ParticipantsView from "./ParticipantsView.svelte";
import type { ParticipantQuery } from "../../lib/bindings/ParticipantQuery";
import type { ParticipantRow } from "../../lib/bindings/ParticipantRow";
import type { ParticipantDetail } from "../../lib/bindings/ParticipantDetail";

const hostile = "<img src=x onerror=alert(1)>";
const rows: ParticipantRow[] = [
  { id: 1, name: "Zoë Müller", email: "zoe@example.com", timeZone: "Europe/Berlin", language: "de", tags: ["vip"], optedOut: false, doNotContact: false, erased: false },
  { id: 2, name: hostile, email: "x@example.com", timeZone: null, language: null, tags: [], optedOut: true, doNotContact: false, erased: false },
];

function detail(id: number): ParticipantDetail {
  const row = rows.find((r) => r.id === id)!;
  return {
    participant: {
      id, name: row.name, email: row.email, phone: null, timeZone: row.timeZone, language: row.language, source: "test",
      attributes: { region: "EU" }, tags: row.tags, optedOutAt: row.optedOut ? "2026-01-02T00:00:00Z" : null,
      doNotContact: false, erasedAt: null, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z",
    },
    governance: {
      at: "2026-06-01T00:00:00Z",
      eligible: !row.optedOut,
      reasons: row.optedOut ? [{ rule: "optedOut", at: "2026-01-02T00:00:00Z" }] : [],
      facts: { erased: false, optedOutAt: null, doNotContact: false, suppressedBy: [], lastContact: null, sessionsLastYear: 0, noShows: 0, bookedAhead: 0, latestBooking: null },
    },
    consents: [],
    history: [],
  };
}

let queries: ParticipantQuery[] = [];
let optOutCalls: unknown[] = [];
let bulkCalls: Record<string, unknown>[] = [];
let keyLoads = 0;

beforeEach(() => {
  queries = [];
  optOutCalls = [];
  bulkCalls = [];
  keyLoads = 0;
  mockCommands((cmd, args) => {
    const a = args as Record<string, unknown>;
    switch (cmd) {
      case "participants_list": {
        const q = a.query as ParticipantQuery;
        queries.push(q);
        const items = q.search ? rows.filter((r) => r.name.toLowerCase().includes(q.search!.toLowerCase().replace("zoe", "zoë"))) : rows;
        return { total: items.length, offset: q.offset, items };
      }
      case "attribute_keys":
        keyLoads++;
        return [{ key: "region", count: 2 }];
      case "participant_detail":
        return detail(a.id as number);
      case "participant_set_opted_out":
        optOutCalls.push(a);
        return detail(a.id as number).participant;
      case "participants_bulk":
        bulkCalls.push(a);
        return { changed: (a.ids as number[]).length - 1, unchanged: 1 };
      default:
        throw new Error(`unexpected command ${cmd}`);
    }
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
  vi.useRealTimers();
});

describe("ParticipantsView", () => {
  it("lists participants and shows a hostile name as text", async () => {
    const { container } = render(ParticipantsView);
    await screen.findByText("Zoë Müller");
    expect(screen.getByText(hostile)).toBeTruthy();
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByTestId("page-info").textContent).toContain("of 2");
  });

  it("searches as you type, from the first page", async () => {
    render(ParticipantsView);
    await screen.findByText("Zoë Müller");
    await fireEvent.input(screen.getByTestId("search"), { target: { value: "zoe" } });
    await waitFor(() => expect(queries.at(-1)?.search).toBe("zoe"));
    expect(queries.at(-1)?.offset).toBe(0);
    await waitFor(() => expect(screen.queryByText(hostile)).toBeNull());
  });

  it("opens a participant with the reasons they are excluded and toggles opt-out", async () => {
    render(ParticipantsView);
    await fireEvent.click(await screen.findByText(hostile));
    await screen.findByTestId("governance-reasons");
    expect(screen.getByTestId("governance-status").textContent).toContain("May not be invited");
    expect(screen.getByTestId("detail-name").textContent).toBe(hostile);
    const toggle = screen.getByTestId("toggle-opted-out") as HTMLInputElement;
    expect(toggle.checked).toBe(true);
    const listsBefore = queries.length;
    await fireEvent.click(toggle);
    await waitFor(() => expect(optOutCalls).toEqual([{ id: 2, optedOut: false }]));
    // The list reloads; the attribute names, which an opt-out cannot change, do not.
    await waitFor(() => expect(queries.length).toBeGreaterThan(listsBefore));
    expect(keyLoads).toBe(1);
  });

  it("loads the first page at once, and a search once typing pauses", async () => {
    vi.useFakeTimers();
    render(ParticipantsView);
    await vi.advanceTimersByTimeAsync(0);
    expect(queries.map((q) => q.search)).toEqual([null]);
    for (const typed of ["m", "mü", "mül"]) {
      await fireEvent.input(screen.getByTestId("search"), { target: { value: typed } });
      await vi.advanceTimersByTimeAsync(50);
    }
    expect(queries.map((q) => q.search)).toEqual([null]);
    await vi.advanceTimersByTimeAsync(120);
    expect(queries.map((q) => q.search)).toEqual([null, "mül"]);
  });

  it("moves through the list with the arrow keys and closes the person with Escape", async () => {
    render(ParticipantsView);
    await screen.findByText("Zoë Müller");
    const list = screen.getByTestId("participant-list");
    const chosen = () => screen.getAllByTestId("participant-row").filter((r) => r.getAttribute("aria-selected") === "true").map((r) => r.dataset.id);
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(chosen()).toEqual(["1"]);
    await screen.findByTestId("detail-name");
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(chosen()).toEqual(["2"]);
    expect(list.getAttribute("aria-activedescendant")).toBe("participant-2");
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(chosen()).toEqual(["2"]);
    await fireEvent.keyDown(list, { key: "Home" });
    expect(chosen()).toEqual(["1"]);
    await fireEvent.keyDown(list, { key: "Escape" });
    expect(chosen()).toEqual([]);
  });

  it("ticks people, on this page at once or one by one with Space, and tags them together", async () => {
    render(ParticipantsView);
    await screen.findByText("Zoë Müller");
    await fireEvent.click(screen.getByTestId("tick-page"));
    expect(screen.getByTestId("bulk-count").textContent).toBe("2 people ticked");
    await fireEvent.click(screen.getAllByTestId("tick")[1]!);
    expect(screen.getByTestId("bulk-count").textContent).toBe("1 person ticked");
    // Space on the chosen row ticks it too.
    const list = screen.getByTestId("participant-list");
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await fireEvent.keyDown(list, { key: " " });
    expect(screen.getByTestId("bulk-count").textContent).toBe("2 people ticked");

    await fireEvent.input(screen.getByTestId("bulk-tag"), { target: { value: "spring" } });
    await fireEvent.click(screen.getByTestId("bulk-apply"));
    await waitFor(() => expect(bulkCalls).toHaveLength(1));
    expect(bulkCalls[0]).toEqual({ ids: [1, 2], action: { action: "tag", tag: "spring" } });
    await waitFor(() => expect(screen.getByRole("status").textContent).toContain("Tagged 1 person spring (1 person already so, or erased)"));
    await fireEvent.click(screen.getByTestId("bulk-clear"));
    expect(screen.queryByTestId("bulk-count")).toBeNull();
  });

  it("sorts by name either way from the column's heading, and by when people joined", async () => {
    render(ParticipantsView);
    await screen.findByText("Zoë Müller");
    expect(queries.at(-1)?.sort).toBe("name");
    await fireEvent.click(screen.getByTestId("sort-name"));
    await waitFor(() => expect(queries.at(-1)?.sort).toBe("nameDescending"));
    expect(screen.getByTestId("sort-name").closest("th")?.getAttribute("aria-sort")).toBe("descending");
    await fireEvent.change(screen.getByTestId("sort"), { target: { value: "newest" } });
    await waitFor(() => expect(queries.at(-1)?.sort).toBe("newest"));
    expect(queries.at(-1)?.offset).toBe(0);
  });
});
