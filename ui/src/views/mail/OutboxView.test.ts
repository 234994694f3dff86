import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import OutboxView from "./OutboxView.svelte";
import type { OutboxMessage } from "../../lib/bindings/OutboxMessage";
import type { OutboxQuery } from "../../lib/bindings/OutboxQuery";

const hostile = "<img src=x onerror=alert(1)>";

function message(id: number, over: Partial<OutboxMessage>): OutboxMessage {
  return {
    id, kind: "invitation", recipient: `p${id}@example.org`, recipientName: "", subject: `Message ${id}`,
    status: "queued", notBefore: "2026-06-01T09:00:00Z", nextAttemptAt: "2026-06-01T09:00:30Z", attempts: 0,
    lastError: null, createdAt: "2026-06-01T09:00:00Z", sentAt: null, messageId: `<${id}@example.com>`, attachments: [],
    ...over,
  };
}

let messages: OutboxMessage[] = [];
let calls: { cmd: string; args: Record<string, unknown> }[] = [];
/** What the saved SMTP settings are: set up, or not yet. */
let smtp: unknown = { host: "smtp.example.com" };

beforeEach(() => {
  calls = [];
  smtp = { host: "smtp.example.com" };
  messages = [
    message(1, { subject: hostile, attempts: 2, lastError: "could not connect to smtp.example.com:587: connection refused" }),
    message(2, { status: "failed", nextAttemptAt: null, lastError: "the server refused it: 550 5.1.1 No such mailbox here" }),
    message(3, { status: "sent", nextAttemptAt: null, sentAt: "2026-06-01T09:01:00Z" }),
  ];
  mockCommands((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case "plugin:event|listen":
        return 1;
      case "outbox_list": {
        const q = a.query as OutboxQuery;
        const shown = q.status ? messages.filter((m) => m.status === q.status) : messages;
        return {
          messages: shown, total: shown.length,
          counts: { waiting: 1, due: 1, failed: messages.filter((m) => m.status === "failed").length, sent: 1, cancelled: 0 },
        };
      }
      case "outbox_message": {
        const m = messages.find((x) => x.id === a.id)!;
        return { message: m, replyTo: null, body: { subject: m.subject, text: `Dear ${hostile}`, html: hostile }, headers: {} };
      }
      case "outbox_retry": {
        const m = messages.find((x) => x.id === a.id)!;
        m.status = "queued";
        return m;
      }
      case "smtp_settings":
        return smtp;
      case "outbox_retry_failed":
        for (const m of messages) if (m.status === "failed") m.status = "queued";
        return 1;
      case "outbox_cancel":
        return Promise.reject({ kind: "Conflict", reason: "message 2 is being handed to the server right now and can no longer be cancelled" });
    }
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("OutboxView", () => {
  it("lists what waits with its last error, and never renders text as HTML", async () => {
    const { container } = render(OutboxView);
    await screen.findByText(hostile);
    expect(container.querySelector("img")).toBeNull();
    expect(screen.getByText(/connection refused/)).toBeTruthy();
    expect(screen.getByText(/550 5.1.1 No such mailbox here/)).toBeTruthy();
    expect(screen.getByTestId("outbox-summary").textContent).toContain("1 waiting");
    await fireEvent.click(screen.getByText(hostile));
    const detail = await screen.findByTestId("outbox-detail");
    expect(detail.textContent).toContain(`Dear ${hostile}`);
    expect(container.querySelector("img")).toBeNull();
  });

  it("retries a failed message and shows a refusal to cancel", async () => {
    render(OutboxView);
    await screen.findByText(/550 5.1.1/);
    const failedRow = screen.getAllByTestId("outbox-row").find((r) => r.dataset.status === "failed")!;
    await fireEvent.click(failedRow.querySelector("[data-testid=outbox-retry]")!);
    await waitFor(() => expect(calls.some((c) => c.cmd === "outbox_retry" && c.args.id === 2)).toBe(true));
    await fireEvent.click(screen.getAllByTestId("outbox-cancel")[0]!);
    expect((await screen.findByRole("alert")).textContent).toContain("can no longer be cancelled");
  });

  it("filters by status", async () => {
    render(OutboxView);
    await screen.findByText(hostile);
    await fireEvent.click(screen.getByTestId("outbox-filter-failed"));
    await waitFor(() => expect(screen.getAllByTestId("outbox-row")).toHaveLength(1));
    const last = calls.filter((c) => c.cmd === "outbox_list").at(-1)!;
    expect((last.args.query as OutboxQuery).status).toBe("failed");
  });

  it("says when mail is not set up, shows a reason many messages share once, and retries every failed one", async () => {
    smtp = null;
    const refused = "could not connect to smtp.example.com:587: connection refused";
    messages = [1, 2, 3].map((id) => message(id, { attempts: 1, lastError: refused }));
    messages.push(message(4, { status: "failed", nextAttemptAt: null, lastError: "the server refused it: 550" }));
    render(OutboxView);
    expect((await screen.findByTestId("outbox-not-set-up")).textContent).toContain("Mail is not set up");
    expect(screen.getByTestId("outbox-shared-error").textContent).toBe(`3 of these messages: ${refused}`);
    expect(screen.getAllByTestId("outbox-error").map((e) => e.textContent)).toEqual(["the server refused it: 550"]);
    await fireEvent.click(screen.getByTestId("outbox-retry-failed"));
    expect((await screen.findByTestId("outbox-notice")).textContent).toBe("1 failed message queued again.");
    expect(calls.filter((c) => c.cmd === "outbox_retry_failed")).toHaveLength(1);
  });

  it("says which failed messages a bulk retry leaves, because they may have arrived", async () => {
    messages = [message(5, { status: "failed", nextAttemptAt: null, lastError: "delivery was interrupted; it may have been delivered" })];
    mockCommands((cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      calls.push({ cmd, args: a });
      if (cmd === "plugin:event|listen") return 1;
      if (cmd === "plugin:event|unlisten") return undefined;
      if (cmd === "smtp_settings") return smtp;
      if (cmd === "outbox_retry_failed") return 0;
      if (cmd === "outbox_list") return { messages, total: 1, counts: { waiting: 0, due: 0, failed: 1, sent: 0, cancelled: 0 } };
      throw new Error(`unexpected command ${cmd}`);
    });
    render(OutboxView);
    await fireEvent.click(await screen.findByTestId("outbox-retry-failed"));
    expect((await screen.findByTestId("outbox-notice")).textContent).toContain(
      "0 failed messages queued again. 1 may already have reached the recipient and stays failed",
    );
  });
});
