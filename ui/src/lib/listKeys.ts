// What a key does in a list people work in: the arrow keys, Home and End
// choose a row, Enter opens the chosen one, Escape closes it. One rule for
// every list, so that each behaves the same.

export type ListMove = { choose: number } | "open" | "close";

/** The move `key` makes in a list of `count` rows whose chosen row is `at`
 * (-1 when none is), or null when it is not a list key. */
export function listKey(key: string, count: number, at: number): ListMove | null {
  if (count === 0) return null;
  switch (key) {
    case "ArrowDown":
      return { choose: at < 0 ? 0 : Math.min(count - 1, at + 1) };
    case "ArrowUp":
      return { choose: at < 0 ? 0 : Math.max(0, at - 1) };
    case "Home":
      return { choose: 0 };
    case "End":
      return { choose: count - 1 };
    case "Enter":
      return at < 0 ? null : "open";
    case "Escape":
      return "close";
    default:
      return null;
  }
}

/** Brings the row with this element id into view, if it is on the page. */
export function reveal(id: string): void {
  document.getElementById(id)?.scrollIntoView?.({ block: "nearest" });
}
