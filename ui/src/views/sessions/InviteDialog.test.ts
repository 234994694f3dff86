import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import InviteDialog from "./InviteDialog.svelte";
import type { InviteRequest } from "../../lib/bindings/InviteRequest";
import type { Session } from "../../lib/bindings/Session";

const hostile = "<img src=x onerror=alert(1)>";
const staff = { id: 1, name: "Ana", email: "ana@example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };
const session: Session = {
  id: 7, uid: "u@panelkeeper", study: "", title: "Checkout", startsAt: "2027-03-16T14:00:00Z", endsAt: "2027-03-16T15:30:00Z", attendanceFrom: new Date(Date.parse("2027-03-16T14:00:00Z") - 3600_000).toISOString(),
  timeZone: "America/New_York", localStart: "2027-03-16T10:00:00", place: "", moderator: staff, observers: [], seats: 8,
  overRecruit: 10, floaters: 0, sequence: 0, status: "scheduled", cancelReason: null, screener: null,
  counts: { invited: 0, confirmed: 0, tentative: 0, declined: 0, waitlisted: 0, attended: 0, noShows: 0 },
  completedAt: null, unownedIssues: 0, consentTopic: null,
};

let requests: InviteRequest[] = [];
let done: number[] = [];

beforeEach(() => {
  requests = [];
  done = [];
  mockCommands((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    if (cmd === "screeners_list") {
      return [{ id: 1, name: "eu", definition: { criteria: [], quotas: [] }, createdAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" }];
    }
    if (cmd === "session_invite") {
      const r = a.request as InviteRequest;
      requests.push(r);
      return {
        session: 7, preview: r.preview, beyondLimit: 0, queued: r.preview ? 0 : 1,
        invited: [{ id: 1, name: "Zoë", email: "zoe@example.com", timeZone: "Europe/Berlin" }],
        excluded: [{ id: 2, name: hostile, email: null, reasons: [{ rule: "optedOut", at: "2026-10-24T00:00:00Z" }, { rule: "alreadyInvited" }] }],
        excludedTotal: 1204, excludedByRule: { optedOut: 4, cooldown: 1200, alreadyInvited: 1 },
      };
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("InviteDialog", () => {
  it("previews who is excluded and why, as text, before sending anything", async () => {
    const { container } = render(InviteDialog, { session, onDone: (n: number) => done.push(n), onClose: () => {} });
    await screen.findByRole("option", { name: "eu" });
    await fireEvent.click(screen.getByTestId("invite-preview"));
    const excluded = await screen.findByTestId("invite-excluded");
    expect(excluded.textContent).toContain(`${hostile}: Opted out on`);
    expect(excluded.textContent).toContain("Already invited to this session");
    expect(container.querySelector("img")).toBeNull();
    // Everyone is counted by rule, the most common first; one page is listed.
    expect(screen.getByTestId("invite-summary").textContent).toContain("1,204 excluded");
    const rules = [...screen.getByTestId("invite-by-rule").querySelectorAll("li")].map((li) => li.textContent);
    expect(rules).toEqual(["In cooldown: 1,200", "Opted out: 4", "Already invited: 1"]);
    expect(screen.getByText(/the first 1 of 1,204/)).toBeTruthy();
    expect(requests).toHaveLength(1);
    expect(requests[0]!.excludedLimit).toBe(200);
    expect(requests[0]!.preview).toBe(true);
    expect(requests[0]!.invitees).toEqual({ by: "screener", name: "eu", limit: 30 });
    expect(done).toEqual([]);

    await fireEvent.click(screen.getByTestId("invite-send"));
    await new Promise((r) => setTimeout(r, 0));
    expect(requests[1]!.preview).toBe(false);
    expect(done).toEqual([1]);
  });
});
