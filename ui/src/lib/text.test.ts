import { describe, expect, it } from "vitest";
import { deliveryText, errorText, exclusionText, rowErrorText } from "./text";

describe("errorText", () => {
  it("names the field, the value and the rule", () => {
    expect(
      errorText({ kind: "InvalidInput", field: "email", value: "anna.example.com", reason: "has no @" }),
    ).toBe('email "anna.example.com" is not valid: has no @');
  });
  it("never shows database internals", () => {
    expect(errorText({ kind: "Database" })).toContain("it was not done");
    expect(errorText({ kind: "Database" })).not.toMatch(/sqlite|SQL/i);
  });
  it("says a full disk saved nothing", () => {
    expect(errorText({ kind: "DiskFull" })).toContain("nothing was saved");
    expect(errorText({ kind: "Busy" })).toContain("Nothing was changed");
  });
  it("passes plain strings through", () => {
    expect(errorText("command not found")).toBe("command not found");
  });
});

describe("exclusionText", () => {
  it("explains each rule", () => {
    expect(exclusionText({ rule: "suppressed", lists: ["crm-customers"] })).toBe("On suppression list crm-customers");
    expect(exclusionText({ rule: "noShowBan", noShows: 3, limit: 2 })).toBe("3 no-shows (banned after 2)");
    expect(exclusionText({ rule: "yearlyCap", sessions: 4, booked: 0, cap: 4 })).toContain("cap 4");
    expect(exclusionText({ rule: "yearlyCap", sessions: 2, booked: 1, cap: 3 })).toContain("1 booked ahead");
    expect(exclusionText({ rule: "booked", startsAt: "2027-03-23T10:00:00Z", until: "2027-06-21T10:00:00Z" })).toContain("Booked for a session on");
  });
});

describe("rowErrorText", () => {
  it("gives line and column", () => {
    expect(rowErrorText({ line: 7, column: "E-mail", reason: "has no @" })).toBe("Line 7, column E-mail: has no @");
    expect(rowErrorText({ line: 9, column: null, reason: "has 5 fields" })).toBe("Line 9: has 5 fields");
  });
});

describe("deliveryText", () => {
  const base = {
    id: 1, kind: "test" as const, recipient: "me@example.com", recipientName: "", subject: "Test",
    notBefore: "2026-06-01T09:00:00Z", attempts: 1, createdAt: "2026-06-01T09:00:00Z",
    messageId: "<1@example.com>", attachments: [],
  };
  it("says what the server did", () => {
    expect(deliveryText({ ...base, status: "sent", nextAttemptAt: null, lastError: null, sentAt: "2026-06-01T09:00:01Z" })).toMatch(/^Sent: the server accepted it at /);
    expect(deliveryText({ ...base, status: "failed", nextAttemptAt: null, lastError: "the server refused it: 550 no", sentAt: null })).toBe("Not sent: the server refused it: 550 no.");
    expect(deliveryText({ ...base, status: "queued", nextAttemptAt: "2026-06-01T09:00:30Z", lastError: "could not connect to h:25: refused", sentAt: null })).toMatch(/^Not sent yet: could not connect to h:25: refused\. Next attempt /);
    expect(deliveryText({ ...base, status: "queued", nextAttemptAt: "2026-06-01T09:00:00Z", lastError: null, sentAt: null })).toBe("Waiting to be sent…");
  });
});
