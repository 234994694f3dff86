import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import ExportPdf from "./ExportPdf.svelte";
import type { ReportFile } from "../../lib/bindings/ReportFile";
import type { ReportProgress } from "../../lib/bindings/ReportProgress";
import type { MessagePreview } from "../../lib/bindings/MessagePreview";

let opened: string[] = [];
let confirmed: string[] = [];
let confirmAnswer = true;

beforeEach(() => {
  opened = [];
  confirmed = [];
  confirmAnswer = true;
  mockCommands((cmd, args) => {
    if (cmd === "open_exported") {
      opened.push((args as { path: string }).path);
      return null;
    }
    if (cmd === "confirm_file") {
      confirmed.push((args as { path: string }).path);
      return confirmAnswer;
    }
    if (cmd === "choose_file") return "/home/ana/Chosen.pdf";
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("ExportPdf", () => {
  it("shows progress, then what was written and that it is a draft", async () => {
    let finish: (f: ReportFile) => void = () => {};
    const run = (path: string, onProgress: (p: ReportProgress) => void) => {
      onProgress({ step: "Laying out 1000 notes and 100 issues", done: 1, total: 3 });
      return new Promise<ReportFile>((resolve) => {
        finish = resolve;
      }).then((f) => ({ ...f, path }));
    };
    render(ExportPdf, { name: "Checkout.pdf", run });
    await fireEvent.input(screen.getByTestId("export-path"), { target: { value: "/tmp/Checkout.pdf" } });
    await fireEvent.click(screen.getByText("Open it afterwards"));
    await fireEvent.click(screen.getByTestId("export-run"));
    expect((await screen.findByTestId("export-progress")).textContent).toContain("Laying out 1000 notes");
    finish({ path: "", pages: 35, bytes: 90_000, draft: true });
    await waitFor(() => expect(screen.getByTestId("export-done").textContent).toContain("Wrote /tmp/Checkout.pdf (35 pages)"));
    expect(screen.getByTestId("export-draft").textContent).toContain("DRAFT");
    await waitFor(() => expect(screen.queryByTestId("export-progress")).toBeNull());
    expect(opened).toEqual(["/tmp/Checkout.pdf"]);
    expect(confirmed).toEqual(["/tmp/Checkout.pdf"]);
  });

  it("writes a typed path only once the person confirms it, and a chosen one at once", async () => {
    const ran: string[] = [];
    const run = (path: string) => {
      ran.push(path);
      return Promise.resolve({ path, pages: 1, bytes: 1000, draft: false });
    };
    render(ExportPdf, { name: "Chosen.pdf", run });
    confirmAnswer = false;
    await fireEvent.input(screen.getByTestId("export-path"), { target: { value: "/tmp/typed.pdf" } });
    await fireEvent.click(screen.getByTestId("export-run"));
    await waitFor(() => expect(confirmed).toEqual(["/tmp/typed.pdf"]));
    expect(ran).toEqual([]);
    await fireEvent.click(screen.getByText("Choose…"));
    await waitFor(() => expect((screen.getByTestId("export-path") as HTMLInputElement).value).toBe("/home/ana/Chosen.pdf"));
    await fireEvent.click(screen.getByTestId("export-run"));
    await waitFor(() => expect(ran).toEqual(["/home/ana/Chosen.pdf"]));
    expect(confirmed).toEqual(["/tmp/typed.pdf"]);
  });

  it("says why an export failed", async () => {
    const run = () => Promise.reject({ kind: "File", path: "/no/such/dir/x.pdf", reason: "could not be written: No such file or directory (os error 2)" });
    render(ExportPdf, { name: "x.pdf", run });
    await fireEvent.input(screen.getByTestId("export-path"), { target: { value: "/no/such/dir/x.pdf" } });
    await fireEvent.click(screen.getByTestId("export-run"));
    expect((await screen.findByTestId("export-error")).textContent).toBe("/no/such/dir/x.pdf: could not be written: No such file or directory (os error 2)");
    expect(opened).toEqual([]);
  });

  it("shows the mail as it will go, as text, then queues it", async () => {
    const sent: [string, string][] = [];
    const previewed: [string, string][] = [];
    const mail = {
      preview: (recipient: string, message: string): Promise<MessagePreview> => {
        previewed.push([recipient, message]);
        return Promise.resolve({
          to: recipient,
          fromName: "Ana Moderator",
          replyTo: "ana@company.example.com",
          body: { subject: "Report: Checkout", text: `Hello,\n\n${message}\n\nAna Moderator`, html: "<p>unused</p>" },
          attachments: [["Checkout.pdf", 90_000]],
        });
      },
      send: (recipient: string, message: string, onProgress: (p: ReportProgress) => void) => {
        onProgress({ step: "Writing the PDF", done: 3, total: 3 });
        sent.push([recipient, message]);
        return Promise.resolve(7);
      },
    };
    render(ExportPdf, { name: "x.pdf", run: () => Promise.reject(new Error("not exported")), mail });
    expect((screen.getByTestId("mail-preview") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.input(screen.getByTestId("mail-to"), { target: { value: "  client@example.com " } });
    await fireEvent.input(screen.getByTestId("mail-message"), { target: { value: "Here is <b>Tuesday</b>'s session." } });
    await fireEvent.click(screen.getByTestId("mail-preview"));
    const text = await screen.findByTestId("mail-preview-text");
    // The message is shown as typed: markup in it is text, not HTML.
    expect(text.textContent).toContain("Here is <b>Tuesday</b>'s session.");
    expect(text.querySelector("b")).toBeNull();
    expect(screen.getByTestId("mail-preview-box").textContent).toContain("Checkout.pdf (88 KB)");
    expect(screen.getByTestId("mail-preview-subject").textContent).toBe("Report: Checkout");
    expect(sent).toEqual([]);
    await fireEvent.click(screen.getByTestId("mail-send"));
    await waitFor(() => expect(screen.getByTestId("mail-done").textContent).toContain("Queued to client@example.com"));
    expect(previewed).toEqual([["client@example.com", "Here is <b>Tuesday</b>'s session."]]);
    expect(sent).toEqual(previewed);
    expect(screen.queryByTestId("mail-preview-box")).toBeNull();
    expect(screen.queryByTestId("export-done")).toBeNull();
  });

  it("drops the preview when the message changes, so what is sent was seen", async () => {
    const mail = {
      preview: (recipient: string, message: string): Promise<MessagePreview> =>
        Promise.resolve({ to: recipient, fromName: null, replyTo: null, body: { subject: "Report", text: message, html: "" }, attachments: [] }),
      send: () => Promise.reject(new Error("not sent")),
    };
    render(ExportPdf, { name: "x.pdf", run: () => Promise.reject(new Error("not exported")), mail });
    await fireEvent.input(screen.getByTestId("mail-to"), { target: { value: "client@example.com" } });
    await fireEvent.click(screen.getByTestId("mail-preview"));
    await screen.findByTestId("mail-preview-box");
    await fireEvent.input(screen.getByTestId("mail-message"), { target: { value: "Changed" } });
    expect(screen.queryByTestId("mail-preview-box")).toBeNull();
  });

  it("drops the preview when the report itself changes", async () => {
    const mail = () => ({
      preview: (recipient: string, message: string): Promise<MessagePreview> =>
        Promise.resolve({ to: recipient, fromName: null, replyTo: null, body: { subject: "Report", text: message, html: "" }, attachments: [] }),
      send: () => Promise.reject(new Error("not sent")),
    });
    const run = () => Promise.reject(new Error("not exported"));
    const { rerender } = render(ExportPdf, { name: "x.pdf", run, mail: mail() });
    await fireEvent.input(screen.getByTestId("mail-to"), { target: { value: "client@example.com" } });
    await fireEvent.click(screen.getByTestId("mail-preview"));
    await screen.findByTestId("mail-preview-box");
    await rerender({ name: "x.pdf", run, mail: mail() });
    expect(screen.queryByTestId("mail-preview-box")).toBeNull();
  });

  it("says why a report could not be mailed", async () => {
    const mail = {
      preview: () => Promise.reject({ kind: "InvalidInput", field: "email", value: "client@", reason: "has no domain after @" }),
      send: () => Promise.reject(new Error("not sent")),
    };
    render(ExportPdf, { name: "x.pdf", run: () => Promise.reject(new Error("not exported")), mail });
    await fireEvent.input(screen.getByTestId("mail-to"), { target: { value: "client@" } });
    await fireEvent.click(screen.getByTestId("mail-preview"));
    expect((await screen.findByTestId("export-error")).textContent).toContain("client@");
    expect(screen.queryByTestId("mail-preview-box")).toBeNull();
  });

  it("offers no mail field where a report cannot be mailed", () => {
    render(ExportPdf, { name: "x.pdf", run: () => Promise.reject(new Error("not exported")) });
    expect(screen.queryByTestId("mail-to")).toBeNull();
  });
});
