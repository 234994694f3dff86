import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import LiveSession from "./LiveSession.svelte";
import type { Note } from "../../lib/bindings/Note";
import type { NoteInput } from "../../lib/bindings/NoteInput";
import type { Session } from "../../lib/bindings/Session";

const hostile = "<img src=x onerror=alert(1)>";
const staff = { id: 1, name: "Ana", email: "ana@example.com", title: "", role: "researcher" as const, lead: null, timeZone: null, canSignIn: false, active: true };
const session: Session = {
  id: 7, uid: "u@panelkeeper", study: "", title: "Checkout", startsAt: new Date(Date.now() - 600_000).toISOString(), attendanceFrom: new Date(Date.now() - 4_200_000).toISOString(),
  endsAt: new Date(Date.now() + 3_000_000).toISOString(), timeZone: "Europe/Berlin", localStart: "2027-03-16T10:00:00",
  place: "", moderator: staff, observers: [], seats: 8, overRecruit: 10, floaters: 0, sequence: 0, status: "scheduled",
  cancelReason: null, screener: null, counts: { invited: 0, confirmed: 2, tentative: 0, declined: 0, waitlisted: 0, attended: 0, noShows: 0 },
  completedAt: null, unownedIssues: 0, consentTopic: null,
};
const person = (participant: number, name: string) => ({
  participant, name, email: `p${participant}@example.org`, timeZone: null, rsvp: "confirmed" as const, attendance: null,
  incentiveCents: null, incentivePaid: false, invitedAt: "2026-01-01T00:00:00Z", consentVersion: null, waitlistedAt: null, offeredAt: null,
});

let added: NoteInput[] = [];
let edited: { id: number; input: NoteInput }[] = [];
let failNext = false;

function note(id: number, input: NoteInput): Note {
  const who = input.participant === "11" ? hostile : input.participant === "12" ? "Zoë" : null;
  return {
    id, session: 7, participant: input.participant ? Number(input.participant) : null, participantName: who, author: 1,
    authorName: "Ana", text: input.text, tags: [...input.text.matchAll(/#(\w+)/g)].map((m) => m[1] ?? ""),
    at: new Date().toISOString(), offsetSeconds: 600 + id, edits: 0,
  };
}

beforeEach(() => {
  added = [];
  edited = [];
  failNext = false;
  mockCommands((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    switch (cmd) {
      case "session_detail":
        return { session, roster: [person(11, hostile), person(12, "Zoë")], quotaCells: [] };
      case "notes_list":
        return [];
      case "issues_list":
        return [];
      case "staff_list":
        return [staff];
      case "note_edit": {
        const input = a.input as NoteInput;
        edited.push({ id: a.id as number, input });
        return { ...note(a.id as number, input), edits: 1 };
      }
      case "note_add": {
        if (failNext) {
          failNext = false;
          throw { kind: "InvalidInput", field: "text", value: "", reason: "is too long" };
        }
        const input = a.input as NoteInput;
        added.push(input);
        return note(added.length, input);
      }
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("LiveSession", () => {
  it("saves on Enter, attributes with Alt+digit and shows user text as text", async () => {
    const { container } = render(LiveSession, { id: 7, onClose: () => {} });
    const box = (await screen.findByTestId("note-input")) as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: "Parcel never came #delivery" } });
    await fireEvent.keyDown(box, { key: "1", code: "Digit1", altKey: true });
    expect(screen.getByTestId("attributed").textContent).toContain(hostile);
    await fireEvent.keyDown(box, { key: "Enter", code: "Enter" });
    await waitFor(() => expect(screen.getAllByTestId("live-note")).toHaveLength(1));
    expect(added).toEqual([{ text: "Parcel never came #delivery", participant: "11", author: null }]);
    expect(box.value).toBe("");
    // The next note is about nobody until a key says otherwise.
    expect(screen.queryByTestId("attributed")).toBeNull();
    expect(screen.getByTestId("note-participant").textContent).toBe(hostile);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByTestId("live-notes").textContent).toContain("#delivery");
  });

  it("keeps a note that could not be saved on screen, with the reason and a retry", async () => {
    render(LiveSession, { id: 7, onClose: () => {} });
    const box = (await screen.findByTestId("note-input")) as HTMLTextAreaElement;
    failNext = true;
    await fireEvent.input(box, { target: { value: "Something important" } });
    await fireEvent.keyDown(box, { key: "Enter", code: "Enter" });
    const unsaved = await screen.findByTestId("unsaved-note");
    await waitFor(() => expect(unsaved.textContent).toContain("Text is too long"));
    await fireEvent.click(screen.getByText("Retry"));
    await waitFor(() => expect(screen.queryByTestId("unsaved-note")).toBeNull());
    expect(screen.getAllByTestId("live-note")).toHaveLength(1);
  });

  it("raises an issue from the note being typed with Alt+I", async () => {
    render(LiveSession, { id: 7, onClose: () => {} });
    const box = (await screen.findByTestId("note-input")) as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: "My refund is three weeks late #billing" } });
    await fireEvent.keyDown(box, { key: "2", code: "Digit2", altKey: true });
    await fireEvent.keyDown(box, { key: "i", code: "KeyI", altKey: true });
    const summary = (await screen.findByTestId("issue-summary")) as HTMLInputElement;
    expect(summary.value).toBe("My refund is three weeks late");
    expect(added).toHaveLength(1);
    expect(screen.getByTestId("raise-issue").textContent).toContain("From Zoë");
  });

  it("edits a note on double-click, keeping who it is about", async () => {
    render(LiveSession, { id: 7, onClose: () => {} });
    const box = (await screen.findByTestId("note-input")) as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: "Refnd late" } });
    await fireEvent.keyDown(box, { key: "2", code: "Digit2", altKey: true });
    await fireEvent.keyDown(box, { key: "Enter", code: "Enter" });
    // The saved note, not its "saving…" copy shown until the answer comes.
    const saved = await waitFor(() => {
      const note = screen.getByTestId("live-note").querySelector(".text");
      expect(note?.textContent).toBe("Refnd late");
      return note!;
    });
    await fireEvent.dblClick(saved);
    const edit = (await screen.findByTestId("note-edit")) as HTMLTextAreaElement;
    await fireEvent.input(edit, { target: { value: "Refund late #billing" } });
    await fireEvent.keyDown(edit, { key: "Enter", code: "Enter" });
    await waitFor(() => expect(screen.getByText("Refund late #billing")).toBeTruthy());
    expect(edited).toEqual([{ id: 1, input: { text: "Refund late #billing", participant: "12", author: null } }]);
    expect(screen.getByText("edited")).toBeTruthy();
  });

  it("lists a note kept for an unreachable team server as not yet sent, and a refused one with its reason", async () => {
    const queued = [
      { clientId: "a-1", session: 7, text: "Typed in the lift", participant: null, typedAt: new Date().toISOString(), refused: null },
      { clientId: "b-2", session: 7, text: hostile, participant: null, typedAt: new Date().toISOString(), refused: "session 7 was not found" },
    ];
    let shown: typeof queued = [];
    const discarded: string[] = [];
    mockCommands((cmd, args) => {
      switch (cmd) {
        case "session_detail":
          return { session, roster: [], quotaCells: [] };
        case "notes_list":
        case "issues_list":
          return [];
        case "staff_list":
          return [staff];
        case "team_queued":
          return shown;
        case "team_discard":
          discarded.push(args.clientId as string);
          shown = shown.filter((q) => q.clientId !== args.clientId);
          return null;
        case "note_add":
          shown = queued;
          throw { kind: "NoteKept", why: "the team server https://panel.example.com cannot be reached" };
      }
      throw new Error(`unexpected command ${cmd}`);
    });
    const { container } = render(LiveSession, { id: 7, onClose: () => {} });
    const box = (await screen.findByTestId("note-input")) as HTMLTextAreaElement;
    await fireEvent.input(box, { target: { value: "Typed in the lift" } });
    await fireEvent.keyDown(box, { key: "Enter" });
    await waitFor(() => expect(screen.getAllByTestId("queued-note")).toHaveLength(2));
    const [waiting, refused] = screen.getAllByTestId("queued-note");
    expect(waiting!.textContent).toContain("not yet sent");
    expect(refused!.textContent).toContain("Refused by the team server: session 7 was not found");
    // Kept, not failed: nothing is left to retry by hand, and user text stays text.
    expect(screen.queryByTestId("unsaved-note")).toBeNull();
    expect(container.querySelector("img")).toBeNull();
    await fireEvent.click(screen.getByText("Discard"));
    await waitFor(() => expect(screen.getAllByTestId("queued-note")).toHaveLength(1));
    expect(discarded).toEqual(["b-2"]);
  });
});
