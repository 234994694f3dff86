// Links between views: a name or title anywhere opens its own view with
// that record chosen. A link sends the place as a window event; the app's
// shell switches view and hands the record to it.

export type Place =
  | { view: "participants"; id: number }
  | { view: "sessions"; id: number }
  | { view: "followups"; id: number }
  | { view: "inbox"; id: number }
  | { view: "outbox"; id: number }
  | { view: "settings"; id?: undefined };

const EVENT = "panelkeeper-go";

/** The views the person at the screen has: a link to another is plain text. */
let reachable = new Set<string>(["participants", "sessions", "followups", "inbox", "outbox", "settings"]);

/** Says which views there are (the shell, once it knows the role). */
export function setReachable(views: string[]): void {
  reachable = new Set(views);
}

/** Whether a link to `view` leads anywhere. */
export function canGo(view: Place["view"]): boolean {
  return reachable.has(view);
}

/** Opens `place`. */
export function go(place: Place): void {
  window.dispatchEvent(new CustomEvent<Place>(EVENT, { detail: place }));
}

/** Calls `to` for every link followed; gives back what stops listening. */
export function onGo(to: (place: Place) => void): () => void {
  const listener = (e: Event) => to((e as CustomEvent<Place>).detail);
  window.addEventListener(EVENT, listener);
  return () => window.removeEventListener(EVENT, listener);
}
