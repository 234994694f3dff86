import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import SessionDetail from "./SessionDetail.svelte";
import type { Session } from "../../lib/bindings/Session";

const staff = { id: 1, name: "Ana", email: "ana@example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };
const session: Session = {
  id: 7, uid: "u@panelkeeper", study: "", title: "Checkout", startsAt: "2026-03-16T14:00:00Z", endsAt: "2026-03-16T15:30:00Z", attendanceFrom: new Date(Date.parse("2026-03-16T14:00:00Z") - 3600_000).toISOString(),
  timeZone: "UTC", localStart: "2026-03-16T14:00:00", place: "", moderator: staff, observers: [], seats: 8,
  overRecruit: 10, floaters: 0, sequence: 0, status: "scheduled", cancelReason: null, screener: null,
  counts: { invited: 0, confirmed: 0, tentative: 0, declined: 0, waitlisted: 0, attended: 0, noShows: 0 },
  completedAt: null, unownedIssues: 1, consentTopic: null,
};

let completed = false;

beforeEach(() => {
  completed = false;
  mockCommands((cmd) => {
    if (cmd === "session_detail") {
      return { session: completed ? { ...session, completedAt: "2026-03-16T16:00:00Z", unownedIssues: 0 } : session, roster: [], quotaCells: [] };
    }
    if (cmd === "session_complete") {
      throw { kind: "Conflict", reason: 'session 7 cannot be completed: an issue is without an owner (#3 "Refund"); assign it first' };
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("SessionDetail", () => {
  it("says how many issues lack an owner, and keeps the refusal to complete on screen", async () => {
    render(SessionDetail, { id: 7 });
    expect((await screen.findByTestId("session-unowned")).textContent).toContain("1 issue raised here without an owner");
    await fireEvent.click(screen.getByTestId("complete-session"));
    await waitFor(() => expect(screen.getByTestId("session-error").textContent).toContain("#3 \"Refund\""));
    // It stays after the reload that follows every action.
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.getByTestId("session-error").textContent).toContain("assign it first");
  });

  it("offers attendance only from an hour before the start, and says from when", async () => {
    const entry = {
      participant: 4, name: "Zoë Ålander", email: "zoe@example.org", timeZone: null, rsvp: "confirmed", attendance: null,
      incentiveCents: null, incentivePaid: false, invitedAt: "2026-03-01T10:00:00Z", consentVersion: null, waitlistedAt: null, offeredAt: null,
    };
    let startsAt = new Date(Date.now() + 3 * 3600 * 1000).toISOString();
    mockCommands((cmd) => {
      if (cmd === "session_detail") {
        return { session: { ...session, startsAt, attendanceFrom: new Date(Date.parse(startsAt) - 3600_000).toISOString() }, roster: [entry], quotaCells: [] };
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    render(SessionDetail, { id: 7 });
    expect((await screen.findByTestId("attendance-later")).textContent).toMatch(/^From /);
    expect(screen.queryByTestId("attendance-attended")).toBeNull();
    cleanup();

    startsAt = new Date(Date.now() + 30 * 60 * 1000).toISOString();
    render(SessionDetail, { id: 7 });
    expect(await screen.findByTestId("attendance-attended")).toBeTruthy();
    expect(screen.queryByTestId("attendance-later")).toBeNull();
  });
});
