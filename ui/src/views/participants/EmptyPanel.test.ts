import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { clearMocks } from "@tauri-apps/api/mocks";
import { mockCommands } from "../../lib/testing";
import EmptyPanel from "./EmptyPanel.svelte";

let asked: number[] = [];
let finish: (() => void) | null = null;

beforeEach(() => {
  asked = [];
  finish = null;
  mockCommands((cmd, args) => {
    if (cmd === "demo_generate") {
      const a = args as { participants: number };
      asked.push(a.participants);
      return new Promise((resolve) => {
        finish = () => resolve({ participants: a.participants });
      });
    }
    throw new Error(`unexpected command ${cmd}`);
  });
});

afterEach(() => {
  cleanup();
  clearMocks();
});

describe("EmptyPanel", () => {
  it("offers the three starts and makes a demo panel of the size picked", async () => {
    const opened: string[] = [];
    let made = 0;
    render(EmptyPanel, {
      onimport: () => opened.push("import"),
      onadd: () => opened.push("add"),
      ondemo: (n: number) => (made = n),
    });
    expect(screen.getByTestId("empty-panel").textContent).toContain("nobody on it yet");
    await fireEvent.click(screen.getByTestId("start-import"));
    await fireEvent.click(screen.getByTestId("start-add"));
    expect(opened).toEqual(["import", "add"]);

    await fireEvent.change(screen.getByTestId("demo-size"), { target: { value: "10000" } });
    await fireEvent.click(screen.getByTestId("start-demo"));
    expect(await screen.findByTestId("demo-progress")).toBeTruthy();
    expect((screen.getByTestId("start-import") as HTMLButtonElement).disabled).toBe(true);
    await waitFor(() => expect(asked).toEqual([10000]));
    finish!();
    await waitFor(() => expect(made).toBe(10000));
    expect(screen.queryByTestId("demo-progress")).toBeNull();
  });
});
