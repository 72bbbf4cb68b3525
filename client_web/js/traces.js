// What Haven leaves in the browser, and how the page removes it after an exit.
import { OUTBOX_KEY } from "./outbox.js";

export const SESSION_KEY = "haven.session";

/** Clear Haven's sessionStorage, localStorage (but an unacknowledged outbox) and IndexedDB. */
export function clearTraces() {
  try {
    sessionStorage.clear();
  } catch {
    /* storage disabled */
  }
  try {
    for (const key of Object.keys(localStorage)) if (key !== OUTBOX_KEY) localStorage.removeItem(key);
  } catch {
    /* storage disabled */
  }
  if (indexedDB && indexedDB.databases) {
    indexedDB
      .databases()
      .then((dbs) => dbs.forEach((db) => db.name && indexedDB.deleteDatabase(db.name)))
      .catch(() => {});
  }
}

/** Clear only Haven's own keys (haven.*, but an unacknowledged outbox): for a host's page. */
export function clearHavenKeys() {
  for (const store of [sessionStorage, localStorage]) {
    try {
      for (const key of Object.keys(store)) if (key.startsWith("haven.") && key !== OUTBOX_KEY) store.removeItem(key);
    } catch {
      /* storage disabled */
    }
  }
}

export function remember(value) {
  try {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  } catch {
    /* storage disabled: a reload starts again from the invite */
  }
}

export function recall() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}
