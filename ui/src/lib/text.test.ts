import { describe, expect, it } from "vitest";
import { errorText, exclusionText, rowErrorText } from "./text";

describe("errorText", () => {
  it("names the field, the value and the rule", () => {
    expect(
      errorText({ kind: "InvalidInput", field: "email", value: "anna.example.com", reason: "has no @" }),
    ).toBe('email "anna.example.com" is not valid: has no @');
  });
  it("never shows database internals", () => {
    expect(errorText({ kind: "Database" })).toContain("Nothing was changed");
  });
  it("passes plain strings through", () => {
    expect(errorText("command not found")).toBe("command not found");
  });
});

describe("exclusionText", () => {
  it("explains each rule", () => {
    expect(exclusionText({ rule: "suppressed", lists: ["crm-customers"] })).toBe("On suppression list crm-customers");
    expect(exclusionText({ rule: "noShowBan", noShows: 3, limit: 2 })).toBe("3 no-shows (banned after 2)");
    expect(exclusionText({ rule: "yearlyCap", sessions: 4, cap: 4 })).toContain("cap 4");
  });
});

describe("rowErrorText", () => {
  it("gives line and column", () => {
    expect(rowErrorText({ line: 7, column: "E-mail", reason: "has no @" })).toBe("Line 7, column E-mail: has no @");
    expect(rowErrorText({ line: 9, column: null, reason: "has 5 fields" })).toBe("Line 9: has 5 fields");
  });
});
