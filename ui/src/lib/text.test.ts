import { describe, expect, it } from "vitest";
import { dateTime, deliveryText, errorText, eventActor, eventText, exclusionText, rowErrorText } from "./text";

describe("errorText", () => {
  it("names the field, the value and the rule", () => {
    expect(
      errorText({ kind: "InvalidInput", field: "email", value: "anna.example.com", reason: "has no @" }),
    ).toBe('Email "anna.example.com" is not valid: has no @');
  });
  it("says what is missing when nothing was given, without 'is not valid'", () => {
    expect(errorText({ kind: "InvalidInput", field: "reason", value: "", reason: "is required" })).toBe("Reason is required");
    expect(
      errorText({ kind: "InvalidInput", field: "session", value: "", reason: "name the note or the session the issue comes from" }),
    ).toBe("Session: name the note or the session the issue comes from");
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

describe("eventText", () => {
  const at = "2027-03-16T10:00:00Z";
  it("reads each audit-trail entry as a sentence, not as its stored fields", () => {
    expect(eventText({ at, actor: "Ana", kind: "reassigned", detail: { from: "Kim", to: "Lee", reason: "on leave" } })).toBe(
      "Handed off from Kim to Lee: on leave",
    );
    expect(eventText({ at, actor: "Kim", kind: "resolved", detail: { note: "Refunded", message: "Hi Zoë", queued: 185 } })).toBe(
      "Resolved: Refunded (the reply to the participant was queued)",
    );
    expect(eventText({ at, actor: null, kind: "escalated", detail: { to: ["Greta", "Ana"], due: "resolution", count: 2 } })).toBe(
      "Escalated to Greta and Ana: resolution overdue (reminder 2)",
    );
    expect(eventText({ at, actor: "Kim", kind: "participant_told", detail: { message: 183, owner: "Lee" } })).toBe(
      "The participant was told that Lee has it now",
    );
    for (const kind of ["raised", "assigned", "contacted", "closed", "reopened", "wont_fix"]) {
      expect(eventText({ at, actor: "Kim", kind, detail: { message: 183, queued: 185 } })).not.toMatch(/message: |queued: /);
    }
  });
  it("says who acted, and that an escalation was automatic", () => {
    expect(eventActor({ at, actor: null, kind: "escalated", detail: {} })).toBe("Panelkeeper, automatically");
    // In a browser (the team server's web app) there is no "this computer".
    expect(eventActor({ at, actor: null, kind: "raised", detail: {} })).toBe("Someone at a computer with no staff member named");
    const w = window as unknown as Record<string, unknown>;
    w.__TAURI_INTERNALS__ = {};
    try {
      expect(eventActor({ at, actor: null, kind: "raised", detail: {} })).toContain("no staff member chosen");
    } finally {
      delete w.__TAURI_INTERNALS__;
    }
    expect(eventActor({ at, actor: "Kim", kind: "raised", detail: {} })).toBe("Kim");
  });
});

describe("dateTime", () => {
  it("names the zone of every time it shows", () => {
    const shown = dateTime("2027-03-16T10:00:00Z");
    expect(shown).toContain("2027");
    expect(shown).toMatch(/(UTC|GMT|[A-Z]{2,5}|[+-]\d{1,2}(:\d{2})?)$/);
  });
});
