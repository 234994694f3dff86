// The live session's keyboard: what a key press in the note box means.
// Kept apart from the component so the mapping is tested on its own.

export type LiveKey =
  | { kind: "save" }
  | { kind: "attribute"; position: number }
  | { kind: "unattribute" }
  | { kind: "raise" };

type KeyLike = Pick<KeyboardEvent, "key" | "code" | "altKey" | "ctrlKey" | "metaKey" | "shiftKey" | "isComposing">;

/**
 * Enter saves (Shift+Enter is a new line); Alt+1…9 attributes the note to
 * that person on the roster and Alt+0 to nobody; Alt+I (or Ctrl+I) raises
 * an issue from the current note. Anything else is typing.
 */
export function liveKey(e: KeyLike): LiveKey | null {
  if (e.isComposing) return null;
  if (e.key === "Enter" && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) return { kind: "save" };
  // Alt+digit: `code` names the key whatever the layout puts on it.
  const digit = /^(?:Digit|Numpad)([0-9])$/.exec(e.code)?.[1] ?? (/^[0-9]$/.test(e.key) ? e.key : undefined);
  if (e.altKey && !e.ctrlKey && digit !== undefined) {
    const n = Number(digit);
    return n === 0 ? { kind: "unattribute" } : { kind: "attribute", position: n };
  }
  if ((e.altKey || e.ctrlKey) && (e.code === "KeyI" || e.key.toLowerCase() === "i")) return { kind: "raise" };
  return null;
}

/** A first summary for an issue raised from a note: its text without tags, at most 120 characters. */
export function summaryFrom(text: string): string {
  const plain = text.replace(/(^|\s)#[\p{L}\p{N}_-]+/gu, "$1").replace(/\s+/g, " ").trim();
  return plain.length > 120 ? `${plain.slice(0, 119)}…` : plain;
}
