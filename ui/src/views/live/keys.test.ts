import { describe, expect, it } from "vitest";
import { liveKey, summaryFrom } from "./keys";

const key = (over: Partial<KeyboardEvent>) =>
  ({ key: "", code: "", altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, isComposing: false, ...over }) as KeyboardEvent;

describe("liveKey", () => {
  it("saves on Enter and leaves Shift+Enter to make a new line", () => {
    expect(liveKey(key({ key: "Enter", code: "Enter" }))).toEqual({ kind: "save" });
    expect(liveKey(key({ key: "Enter", code: "Enter", shiftKey: true }))).toBeNull();
  });
  it("does nothing while an input method is composing", () => {
    expect(liveKey(key({ key: "Enter", code: "Enter", isComposing: true }))).toBeNull();
  });
  it("attributes with Alt and a digit, on any layout", () => {
    expect(liveKey(key({ key: "3", code: "Digit3", altKey: true }))).toEqual({ kind: "attribute", position: 3 });
    // A French layout: the key says "&", the code says Digit1.
    expect(liveKey(key({ key: "&", code: "Digit1", altKey: true }))).toEqual({ kind: "attribute", position: 1 });
    expect(liveKey(key({ key: "0", code: "Numpad0", altKey: true }))).toEqual({ kind: "unattribute" });
    expect(liveKey(key({ key: "3", code: "Digit3" }))).toBeNull();
  });
  it("raises an issue with Alt+I or Ctrl+I", () => {
    expect(liveKey(key({ key: "i", code: "KeyI", altKey: true }))).toEqual({ kind: "raise" });
    expect(liveKey(key({ key: "I", code: "KeyI", ctrlKey: true }))).toEqual({ kind: "raise" });
    expect(liveKey(key({ key: "i", code: "KeyI" }))).toBeNull();
  });
});

describe("summaryFrom", () => {
  it("drops tags and squeezes space", () => {
    expect(summaryFrom("Refund  never came #billing #angry")).toBe("Refund never came");
    expect(summaryFrom("#delivery Parcel lost")).toBe("Parcel lost");
  });
  it("keeps summaries short", () => {
    expect(summaryFrom("x".repeat(300))).toHaveLength(120);
  });
});
