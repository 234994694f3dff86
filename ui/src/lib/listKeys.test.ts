import { describe, expect, it } from "vitest";
import { listKey } from "./listKeys";

describe("listKey", () => {
  it("moves within the list and stops at its ends", () => {
    expect(listKey("ArrowDown", 3, -1)).toEqual({ choose: 0 });
    expect(listKey("ArrowDown", 3, 1)).toEqual({ choose: 2 });
    expect(listKey("ArrowDown", 3, 2)).toEqual({ choose: 2 });
    expect(listKey("ArrowUp", 3, 0)).toEqual({ choose: 0 });
    expect(listKey("ArrowUp", 3, -1)).toEqual({ choose: 0 });
    expect(listKey("Home", 3, 2)).toEqual({ choose: 0 });
    expect(listKey("End", 3, 0)).toEqual({ choose: 2 });
  });
  it("opens only a chosen row, closes with Escape, and leaves other keys alone", () => {
    expect(listKey("Enter", 3, -1)).toBeNull();
    expect(listKey("Enter", 3, 1)).toBe("open");
    expect(listKey("Escape", 3, 1)).toBe("close");
    expect(listKey("a", 3, 1)).toBeNull();
    expect(listKey("ArrowDown", 0, -1)).toBeNull();
  });
});
