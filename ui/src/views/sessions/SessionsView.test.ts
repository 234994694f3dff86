import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import SessionsView from "./SessionsView.svelte";
import type { Session } from "../../lib/bindings/Session";

const staff = { id: 1, name: "Ana", email: "ana@example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };

function session(id: number, title: string, startsAt: string): Session {
  return {
    id, uid: `${id}@panelkeeper`, study: "", title, startsAt, endsAt: new Date(Date.parse(startsAt) + 90 * 60_000).toISOString(),
    attendanceFrom: startsAt, timeZone: "UTC", localStart: startsAt.slice(0, 19), place: "", moderator: staff, observers: [], seats: 8,
    overRecruit: 8, floaters: 0, sequence: 0, status: "scheduled", cancelReason: null, screener: null,
    counts: { invited: 0, confirmed: 0, tentative: 0, declined: 0, waitlisted: 0, attended: 0, noShows: 0 },
    completedAt: null, unownedIssues: 0, consentTopic: null,
  };
}

const ahead = [session(1, "Checkout", "2027-03-16T14:00:00Z"), session(2, "Delivery", "2027-03-17T09:00:00Z")];
let detailsAsked: number[] = [];

beforeEach(() => {
  detailsAsked = [];
  mockCommands((cmd, args) => {
    if (cmd === "sessions_list") return ahead;
    if (cmd === "session_detail") {
      detailsAsked.push((args as { id: number }).id);
      return new Promise(() => {});
    }
    return new Promise(() => {});
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("SessionsView", () => {
  it("moves through the list of sessions ahead with the arrow keys, and Escape closes the one chosen", async () => {
    render(SessionsView, {});
    await fireEvent.click(screen.getByTestId("mode-list"));
    await waitFor(() => expect(screen.getAllByTestId("session-row")).toHaveLength(2));
    const list = screen.getByTestId("session-list");
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await waitFor(() => expect(list.getAttribute("aria-activedescendant")).toBe("session-1"));
    await fireEvent.keyDown(list, { key: "ArrowDown" });
    await waitFor(() => expect(list.getAttribute("aria-activedescendant")).toBe("session-2"));
    expect(screen.getAllByTestId("session-row")[1]!.getAttribute("aria-selected")).toBe("true");
    await waitFor(() => expect(detailsAsked).toContain(2));
    await fireEvent.keyDown(list, { key: "Escape" });
    await waitFor(() => expect(list.getAttribute("aria-activedescendant")).toBeNull());
  });
});
