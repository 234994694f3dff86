import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import { onGo, type Place } from "../../lib/navigate";
import Timeline from "./Timeline.svelte";
import type { TimelineEntry } from "../../lib/bindings/TimelineEntry";

const entries: TimelineEntry[] = [
  { at: "2027-03-18T09:00:00Z", what: { kind: "mailReceived", message: 4, subject: "Re: your refund [#12]", mail: "reply", issue: 12, fromName: "Zoë" } },
  { at: "2027-03-17T09:00:00Z", what: { kind: "mailSent", message: 31, subject: "About your refund [#12]", mail: "issue_reply", status: "sent" } },
  { at: "2027-03-16T10:20:00Z", what: { kind: "issue", issue: 12, summary: "Refund never arrived", status: "contacted", overdue: true, ownerName: "Lena Lead", session: 7, sessionTitle: "Checkout" } },
  { at: "2027-03-16T10:15:00Z", what: { kind: "note", note: 55, session: 7, sessionTitle: "Checkout", text: "<b>My refund</b> never came" } },
  { at: "2027-03-16T10:00:00Z", what: { kind: "contact", contact: "attended", session: 7, sessionTitle: "Checkout", detail: null } },
  { at: "2027-03-01T08:00:00Z", what: { kind: "consent", topic: "recording", version: 2, superseded: false } },
];

let visited: Place[] = [];
let stop = () => {};

beforeEach(() => {
  visited = [];
  stop = onGo((p) => visited.push(p));
  mockCommands((cmd, args) => {
    if (cmd === "participant_timeline" && args.id === 5) return entries;
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  stop();
  cleanup();
  clearMocks();
});

describe("Timeline", () => {
  it("tells a participant's story newest first, each session, issue and message a link", async () => {
    render(Timeline, { id: 5 });
    await waitFor(() => expect(screen.getAllByTestId("timeline-entry")).toHaveLength(6));
    const kinds = screen.getAllByTestId("timeline-entry").map((li) => li.dataset.kind);
    expect(kinds).toEqual(["mailReceived", "mailSent", "issue", "note", "contact", "consent"]);
    const text = screen.getByTestId("timeline").textContent ?? "";
    expect(text).toContain("Overdue");
    expect(text).toContain("owned by Lena Lead");
    expect(text).toContain("Accepted the recording consent, version 2");
    // A note's text is text, never markup.
    expect(screen.getByTestId("timeline").querySelector("b")).toBeNull();
    expect(text).toContain("<b>My refund</b> never came");

    await fireEvent.click(screen.getByTestId("timeline-issue"));
    await fireEvent.click(screen.getByTestId("timeline-mail"));
    await fireEvent.click(screen.getByTestId("timeline-inbox"));
    await fireEvent.click(screen.getAllByTestId("timeline-session")[0]!);
    expect(visited).toEqual([
      { view: "followups", id: 12 },
      { view: "outbox", id: 31 },
      { view: "inbox", id: 4 },
      { view: "sessions", id: 7 },
    ]);
  });
});
