import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import ReplyForm from "./ReplyForm.svelte";
import type { MessagePreview } from "../../lib/bindings/MessagePreview";

type Call = [string, Record<string, unknown>];
let calls: Call[] = [];
/** What the previews answer: a message, nobody to write to, or an error. */
let answer: "mail" | "nobody" | "refused" = "mail";

function mail(args: Record<string, unknown>): MessagePreview {
  return {
    to: "zoe@example.org",
    fromName: "Kim Care",
    replyTo: "kim@company.example.com",
    body: { subject: "Resolved: Parcel lost", text: `Dear Zoë,\n\n${String(args.message)}\n\nKim Care`, html: "<p>unused</p>" },
    attachments: [],
  };
}

beforeEach(() => {
  calls = [];
  answer = "mail";
  mockCommands((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push([cmd, a]);
    if (cmd === "issue_preview_resolve" || cmd === "issue_preview_wont_fix") {
      if (answer === "refused") {
        throw { kind: "Conflict", reason: "issue 7: the participant has not been contacted yet: log a contact first" };
      }
      return answer === "mail" ? mail(a) : null;
    }
    if (cmd === "issue_resolve" || cmd === "issue_wont_fix") return { id: 7 };
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

async function type(note: string, message: string) {
  await fireEvent.input(screen.getByTestId("reply-note"), { target: { value: note } });
  await fireEvent.input(screen.getByTestId("reply-message"), { target: { value: message } });
}

const sent = () => calls.filter(([cmd]) => cmd === "issue_resolve" || cmd === "issue_wont_fix");

describe("ReplyForm", () => {
  it("shows the message as it will go, as text, then resolves with exactly what was read", async () => {
    const done: string[] = [];
    render(ReplyForm, { id: 7, participantName: "Zoë Ålander", onDone: (n: string) => done.push(n) });
    await type("Found the parcel", "It is <b>on its way</b> & due Friday.");
    await fireEvent.click(screen.getByTestId("reply-preview-resolve"));
    const text = await screen.findByTestId("reply-preview-text");
    expect(text.textContent).toContain("It is <b>on its way</b> & due Friday.");
    expect(text.querySelector("b")).toBeNull();
    expect(screen.getByTestId("reply-preview-to").textContent).toBe("zoe@example.org");
    expect(screen.getByTestId("reply-preview-reply-to").textContent).toBe("kim@company.example.com");
    expect(screen.getByTestId("reply-preview-subject").textContent).toBe("Resolved: Parcel lost");
    expect(sent()).toEqual([]);
    await fireEvent.click(screen.getByTestId("reply-send"));
    await waitFor(() => expect(done).toEqual(["Resolved; the message to the participant is queued."]));
    expect(sent()).toEqual([["issue_resolve", { id: 7, note: "Found the parcel", message: "It is <b>on its way</b> & due Friday." }]]);
    expect(calls[0]).toEqual(["issue_preview_resolve", sent()[0]?.[1]]);
    expect(screen.queryByTestId("reply-preview")).toBeNull();
    expect((screen.getByTestId("reply-message") as HTMLTextAreaElement).value).toBe("");
  });

  it("drops the preview when either text changes, so nothing unread is sent", async () => {
    render(ReplyForm, { id: 7, participantName: "Zoë", onDone: () => {} });
    await type("Found it", "On its way");
    for (const field of ["reply-message", "reply-note"]) {
      await fireEvent.click(screen.getByTestId("reply-preview-resolve"));
      await screen.findByTestId("reply-send");
      await fireEvent.input(screen.getByTestId(field), { target: { value: "Changed" } });
      expect(screen.queryByTestId("reply-send")).toBeNull();
    }
    expect(sent()).toEqual([]);
  });

  it("closes as won't fix with its reason", async () => {
    const done: string[] = [];
    render(ReplyForm, { id: 7, participantName: "Zoë", onDone: (n: string) => done.push(n) });
    await type("Outside the warranty", "We cannot replace it, and here is why.");
    await fireEvent.click(screen.getByTestId("reply-preview-wont-fix"));
    expect((await screen.findByTestId("reply-send")).textContent).toContain("won't fix");
    await fireEvent.click(screen.getByTestId("reply-send"));
    await waitFor(() => expect(done).toEqual(["Closed as won't fix; the message to the participant is queued."]));
    expect(calls.map(([cmd]) => cmd)).toEqual(["issue_preview_wont_fix", "issue_wont_fix"]);
    expect(sent()[0]?.[1]).toEqual({ id: 7, reason: "Outside the warranty", message: "We cannot replace it, and here is why." });
  });

  it("says why a preview is refused and offers nothing to send", async () => {
    answer = "refused";
    render(ReplyForm, { id: 7, participantName: "Zoë", onDone: () => {} });
    await type("Found it", "On its way");
    await fireEvent.click(screen.getByTestId("reply-preview-resolve"));
    expect((await screen.findByTestId("reply-error")).textContent).toContain("log a contact first");
    expect(screen.queryByTestId("reply-send")).toBeNull();
    expect(sent()).toEqual([]);
  });

  it("says when nobody can be written to, and still resolves", async () => {
    answer = "nobody";
    const done: string[] = [];
    render(ReplyForm, { id: 7, participantName: "Erased participant 12", onDone: (n: string) => done.push(n) });
    await type("Found it", "On its way");
    await fireEvent.click(screen.getByTestId("reply-preview-resolve"));
    expect((await screen.findByTestId("reply-nobody")).textContent).toContain("nobody will be written to");
    await fireEvent.click(screen.getByTestId("reply-send"));
    await waitFor(() => expect(done).toEqual(["Resolved; nobody was written to."]));
  });
});
