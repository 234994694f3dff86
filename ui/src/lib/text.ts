// Human text for the core's tagged values. TypeScript checks each switch
// covers every kind, so a new variant in Rust fails the UI build until it
// has words here.

import { viewerZone } from "./zone";
import { inDesktop } from "./api";
import type { InboxKind } from "./bindings/InboxKind";
import type { Error as CoreError } from "./bindings/Error";
import type { Exclusion } from "./bindings/Exclusion";
import type { ContactKind } from "./bindings/ContactKind";
import type { RowError } from "./bindings/RowError";
import type { MessageKind } from "./bindings/MessageKind";
import type { MessageStatus } from "./bindings/MessageStatus";
import type { OutboxMessage } from "./bindings/OutboxMessage";
import type { Attendance } from "./bindings/Attendance";
import type { Rsvp } from "./bindings/Rsvp";
import type { Role } from "./bindings/Role";
import type { Issue } from "./bindings/Issue";
import type { IssueEvent } from "./bindings/IssueEvent";
import type { IssueStatus } from "./bindings/IssueStatus";
import type { Severity } from "./bindings/Severity";
import type { ContactVia } from "./bindings/ContactVia";
import type { ErasureReport } from "./bindings/ErasureReport";

function isCoreError(e: unknown): e is CoreError {
  return typeof e === "object" && e !== null && "kind" in e && typeof (e as { kind: unknown }).kind === "string";
}

/** What went wrong, in a sentence, for anything a command rejects with. */
export function errorText(e: unknown): string {
  if (!isCoreError(e)) return typeof e === "string" ? e : String(e);
  const raw = e as { kind: string; reason?: unknown };
  switch (e.kind) {
    case "NotFound":
      return `${e.what} ${e.id} was not found`;
    case "InvalidInput": {
      // A sentence: "Email "anna.example.com" is not valid: has no @".
      const field = e.field.charAt(0).toUpperCase() + e.field.slice(1);
      if (e.value) return `${field} "${e.value}" is not valid: ${e.reason}`;
      // Nothing was given: "Reason is required", "Session: name the note…".
      return /^(is|are|must|has|needs|cannot)\b/.test(e.reason) ? `${field} ${e.reason}` : `${field}: ${e.reason}`;
    }
    case "Conflict":
      return e.reason;
    case "File":
      return `${e.path}: ${e.reason}`;
    case "Busy":
      return "The panel is busy with another change (such as an import in another window). Nothing was changed; try again when it has finished.";
    case "DiskFull":
      return "The disk that holds the panel is full, so nothing was saved. Free some space and try again.";
    case "Storage":
      return e.reason;
    case "Database":
      return "The panel database could not complete the request, so it was not done. The details are in Panelkeeper's log.";
    case "SignedOut":
      return "You are not signed in, or your sign-in has ended. Sign in again.";
    case "SignInRefused":
      return "The email address or the password is not right.";
    case "SlowDown":
      return `Too many sign-ins failed. Wait ${e.seconds} seconds and try again.`;
    case "Forbidden":
      return `This needs the ${e.needs} role, which your account does not have.`;
    case "Offline":
      return `Offline: not saved. The team server ${e.server} cannot be reached; try again when the connection is back.`;
    case "NoteKept":
      return `Not yet sent: kept on this computer and sent when it can be (${e.why}).`;
    case "Csrf":
      return "The request did not come from Panelkeeper's own page, so nothing was done. Reload the page and try again.";
    case "Mailbox":
      return `The panel mailbox could not be read: ${e.reason}. What was read before is kept.`;
  }
  // A kind this page does not know (a newer server): its own words, if it has them.
  return typeof raw.reason === "string" ? raw.reason : raw.kind;
}

export function day(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { year: "numeric", month: "short", day: "numeric", timeZone: viewerZone() });
}

export function dateTime(iso: string): string {
  // One format everywhere, in the viewer's zone and naming it ("16 Mar 2027, 10:00 CET").
  return new Date(iso).toLocaleString(undefined, {
    timeZone: viewerZone(),
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
}

/** Why a participant may not be invited. */
export function exclusionText(x: Exclusion): string {
  switch (x.rule) {
    case "erased":
      return "Erased";
    case "optedOut":
      return `Opted out on ${day(x.at)}`;
    case "doNotContact":
      return "Marked do not contact";
    case "suppressed":
      return `On suppression list ${x.lists.join(", ")}`;
    case "cooldown":
      return `In cooldown: last contact ${day(x.lastContact)}, invitable from ${day(x.until)}`;
    case "booked":
      return `Booked for a session on ${day(x.startsAt)}, invitable from ${day(x.until)}`;
    case "yearlyCap":
      return x.booked > 0
        ? `${x.sessions} sessions in the last 12 months and ${x.booked} booked ahead (cap ${x.cap})`
        : `${x.sessions} sessions in the last 12 months (cap ${x.cap})`;
    case "noShowBan":
      return `${x.noShows} no-shows (banned after ${x.limit})`;
    case "notQualified":
      return `Does not meet ${x.criterion}`;
    case "quotaFull":
      return `Quota full: ${x.attribute}=${x.value} already has ${x.max}`;
    case "alreadyInvited":
      return "Already invited to this session";
    case "consentMissing":
      return `Has not accepted consent "${x.topic}" version ${x.version}, which this session requires${x.accepted !== null ? ` (accepted version ${x.accepted})` : ""}`;
    case "doubleBooked":
      return `Double-booked: already in session ${x.session} "${x.title}" at ${dateTime(x.startsAt)}`;
  }
}

/** A contact rule's name, as a summary of who it excludes counts it. */
export function ruleText(rule: string): string {
  const words: Record<string, string> = {
    erased: "Erased",
    optedOut: "Opted out",
    doNotContact: "Do not contact",
    suppressed: "On a suppression list",
    cooldown: "In cooldown",
    booked: "Booked for a session ahead",
    yearlyCap: "Yearly cap reached",
    noShowBan: "No-show ban",
    notQualified: "Not qualified",
    quotaFull: "Quota full",
    alreadyInvited: "Already invited",
    consentMissing: "Consent missing",
    doubleBooked: "Double-booked",
  };
  return words[rule] ?? rule;
}

export function contactText(kind: ContactKind): string {
  switch (kind) {
    case "invited":
      return "Invited";
    case "confirmed":
      return "Confirmed";
    case "declined":
      return "Declined";
    case "attended":
      return "Attended";
    case "late":
      return "Attended late";
    case "no_show":
      return "No-show";
    case "cancelled":
      return "Cancelled";
  }
}

export function rowErrorText(e: RowError): string {
  return e.column ? `Line ${e.line}, column ${e.column}: ${e.reason}` : `Line ${e.line}: ${e.reason}`;
}

export function count(n: number): string {
  return n.toLocaleString();
}

/** What a message is, in words. */
export function messageKindText(k: MessageKind): string {
  switch (k) {
    case "test":
      return "Test";
    case "invitation":
      return "Invitation";
    case "reminder":
      return "Reminder";
    case "session_cancelled":
      return "Session cancelled";
    case "issue_assigned":
      return "Issue assigned";
    case "nudge":
      return "Nudge";
    case "escalation":
      return "Escalation";
    case "handoff":
      return "Hand-off";
    case "resolution":
      return "Resolution";
    case "report":
      return "Report";
    case "waitlist_offer":
      return "Waitlist offer";
    case "staff_invitation":
      return "Invitation to the team server";
    case "issue_reply":
      return "A participant's reply, for the owner";
    case "owner_message":
      return "The owner's message";
  }
}

/** What a message read from the panel mailbox is, in words. */
export function inboxKindText(k: InboxKind): string {
  switch (k) {
    case "reply":
      return "Reply";
    case "calendar":
      return "Calendar answer";
    case "unsubscribe":
      return "Unsubscribe";
    case "bounce":
      return "Delivery failure";
    case "automatic":
      return "Automatic reply";
    case "other":
      return "Other";
  }
}

/** Where a message is, in words. */
export function messageStatusText(s: MessageStatus): string {
  switch (s) {
    case "queued":
      return "Waiting";
    case "sending":
      return "Sending";
    case "sent":
      return "Sent";
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
  }
}

/** The outcome of a message, as the settings view reports a test message. */
export function deliveryText(m: OutboxMessage): string {
  switch (m.status) {
    case "sent":
      return `Sent: the server accepted it${m.sentAt ? ` at ${dateTime(m.sentAt)}` : ""}.`;
    case "failed":
      return `Not sent: ${m.lastError ?? "it failed"}.`;
    case "cancelled":
      return "Cancelled before it was sent.";
    case "sending":
      return "Sending…";
    case "queued":
      return m.lastError
        ? `Not sent yet: ${m.lastError}. Next attempt ${m.nextAttemptAt ? dateTime(m.nextAttemptAt) : "soon"}.`
        : "Waiting to be sent…";
  }
}

export function rsvpText(r: Rsvp): string {
  switch (r) {
    case "invited":
      return "Invited";
    case "confirmed":
      return "Confirmed";
    case "declined":
      return "Declined";
    case "tentative":
      return "Tentative";
    case "waitlisted":
      return "Waitlisted (floater)";
  }
}

export function attendanceText(a: Attendance): string {
  switch (a) {
    case "attended":
      return "Attended";
    case "late":
      return "Late";
    case "no_show":
      return "No-show";
    case "cancelled":
      return "Cancelled";
  }
}

/** "Tue 16 Mar 2027, 10:00" from a wall-clock "2027-03-16T10:00:00". */
export function wallClock(local: string): string {
  const [date = "", time = ""] = local.split("T");
  const [y = 1970, m = 1, d = 1] = date.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  const name = day.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  return `${name}, ${time.slice(0, 5)}`;
}

/** Cents as "50.00". */
export function money(cents: number): string {
  return `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;
}

export function issueStatusText(s: IssueStatus): string {
  switch (s) {
    case "open":
      return "Open";
    case "contacted":
      return "Contacted";
    case "waiting":
      return "Waiting on participant";
    case "resolved":
      return "Resolved";
    case "wont_fix":
      return "Won't fix";
    case "closed":
      return "Closed";
  }
}

export function severityText(s: Severity): string {
  switch (s) {
    case "low":
      return "Low";
    case "normal":
      return "Normal";
    case "high":
      return "High";
    case "critical":
      return "Critical";
  }
}

export function viaText(v: ContactVia): string {
  switch (v) {
    case "email":
      return "Email";
    case "phone":
      return "Phone";
    case "meeting":
      return "Meeting";
  }
}

/** "3 h", "2 d 4 h", "25 min": a span of milliseconds, roughly. */
export function span(ms: number): string {
  const minutes = Math.round(Math.abs(ms) / 60000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h`;
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest ? `${days} d ${rest} h` : `${days} d`;
}

/** The due time an open issue is working to, and what it is for. */
export function nextDue(i: Issue): { what: string; at: string } {
  // "open" means not yet contacted in this round (since raised or reopened).
  return i.status === "open"
    ? { what: i.reopens > 0 ? "Contact again" : "First contact", at: i.firstContactDue }
    : { what: "Resolution", at: i.resolutionDue };
}

/** "First contact due in 5 h" or "Resolution overdue by 2 d". */
export function dueText(i: Issue, now: number = Date.now()): string {
  if (i.status === "resolved" || i.status === "wont_fix" || i.status === "closed") {
    return i.resolvedAt ? `${issueStatusText(i.status)} ${dateTime(i.resolvedAt)}` : issueStatusText(i.status);
  }
  if (i.status === "waiting" && i.waitingSince) {
    return `Waiting on the participant since ${dateTime(i.waitingSince)}: the clock stands still`;
  }
  const { what, at } = nextDue(i);
  const left = Date.parse(at) - now;
  return left >= 0 ? `${what} due in ${span(left)}` : `${what} overdue by ${span(left)}`;
}

/** "+00:42:10" (or "-00:05:00" before the start): an offset in seconds. */
export function offsetText(seconds: number): string {
  const sign = seconds < 0 ? "-" : "+";
  const s = Math.abs(Math.trunc(seconds));
  const two = (n: number) => String(n).padStart(2, "0");
  return `${sign}${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}

/** What an erasure did, a sentence per thing done. */
export function erasureLines(r: ErasureReport): string[] {
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  const lines = [
    "Name, email, phone, time zone, language, source, attributes and tags removed",
    `${n(r.consentsDeleted, "consent", "consents")} deleted`,
    `${n(r.mailReceivedDeleted, "message received", "messages received")} from them or about them deleted`,
    `${n(r.messagesWithdrawn, "waiting message", "waiting messages")} to or about them withdrawn before sending`,
    `${n(r.messagesCleaned, "message", "messages")} cleaned of their details (${n(r.attachmentsRemoved, "attachment", "attachments")} removed)`,
    `${n(r.notesMatchesRemoved, "note", "notes")} with their name, email or phone taken out`,
    `${n(r.notesRemovedWhole, "note", "notes")} taken out whole`,
    `${n(r.noteVersionsCleaned, "earlier version", "earlier versions")} of notes cleaned`,
    `${n(r.issuesCleaned, "issue", "issues")}, ${n(r.contactLogEntriesCleaned, "contact-log entry", "contact-log entries")} and ${n(r.auditEntriesCleaned, "audit-trail entry", "audit-trail entries")} cleaned`,
  ];
  for (const k of r.notesKept) lines.push(`Note ${k.note} kept as it was: ${k.reason}`);
  return lines;
}

/** One entry of an issue's audit trail, as a sentence. */
export function eventText(e: IssueEvent): string {
  const d = e.detail;
  const text = (key: string): string => {
    const v = d[key];
    return typeof v === "string" ? v : typeof v === "number" ? String(v) : "";
  };
  const said = (key: string): string => (text(key) ? `: ${text(key)}` : "");
  switch (e.kind) {
    case "raised":
      return `Raised${text("severity") ? `, ${text("severity")} severity` : ""}`;
    case "assigned":
      return text("owner") ? `Assigned to ${text("owner")}` : "Assigned";
    case "reassigned":
      return `Handed off${text("from") ? ` from ${text("from")}` : ""}${text("to") ? ` to ${text("to")}` : ""}${said("reason")}`;
    case "contacted":
      return `Contact logged${text("via") ? ` by ${text("via")}` : ""}${said("outcome")}`;
    case "waiting":
      return `Asked the participant and waits for the answer${said("question")}`;
    case "resumed":
      return `The clock goes on${said("reason")}`;
    case "resolved":
    case "wont_fix": {
      const what = e.kind === "resolved" ? "Resolved" : "Closed as won't fix";
      const reply = d.queued !== null && d.queued !== undefined ? " (the reply to the participant was queued)" : " (no reply: the participant has no email address)";
      return `${what}${said("note")}${"queued" in d ? reply : ""}`;
    }
    case "closed":
      return "Closed";
    case "reopened":
      return `Reopened${said("reason")}${text("rule") ? ` (the rule: ${text("rule")})` : ""}`;
    case "replied":
      return d.thanks === true ? "The participant replied with thanks" : "The participant replied by mail";
    case "escalated": {
      const to = Array.isArray(d.to) ? d.to.join(" and ") : "";
      const round = text("count");
      return `Escalated${to ? ` to ${to}` : ""}${text("due") ? `: ${text("due")} overdue` : ""}${round && round !== "1" ? ` (reminder ${round})` : ""}`;
    }
    case "participant_told":
      return `The participant was told${text("owner") ? ` that ${text("owner")} has it now` : ""}`;
    default:
      return e.kind.replace(/_/g, " ");
  }
}

/** Who made an audit-trail entry. */
export function eventActor(e: IssueEvent): string {
  if (e.actor) return e.actor;
  if (e.kind === "escalated") return "Panelkeeper, automatically";
  // In a browser the change came from a computer working on the team's
  // database directly (its command line or desktop app) with nobody named.
  return inDesktop() ? "Someone on this computer (no staff member chosen in Settings)" : "Someone at a computer with no staff member named";
}

/** What each role may do on a team server, in a person's words. */
export const roleWords: Record<Role, string> = {
  staff: "Staff: their own issues",
  researcher: "Researcher: the panel, sessions, issues",
  admin: "Admin: everything, and settings",
};
