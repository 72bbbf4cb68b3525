// The signal outbox: a safety signal is kept (in memory and in localStorage) until the server
// acknowledges it, resent every 2 s, over the socket when it is up and over HTTP when it is not;
// when the page is being hidden or closed, whatever is still unacknowledged goes by sendBeacon.
// Haven's pages use it same-origin; the embed widget passes Haven's origin as `base` and sends
// text/plain bodies, which are CORS "simple" requests: no preflight, and a beacon is allowed.
import { EV } from "./events.js";

export const OUTBOX_KEY = "haven.outbox";
const RESEND_MS = 2000;
const SIGNAL_URL = "/api/signal";

function load() {
  try {
    const items = JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}

/** A new signal id: 22 url-safe random characters. */
export function newSignalId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return "sig_" + btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, (c) => ({ "+": "-", "/": "_", "=": "" })[c]);
}

export class Outbox {
  /**
   * getSocket() returns the live socket.io socket or null; base is Haven's origin ("" on its own
   * pages) and plain sends bodies as text/plain (the server reads JSON whatever the type).
   */
  constructor(getSocket, { base = "", plain = Boolean(base) } = {}) {
    this.getSocket = getSocket;
    this.url = base + SIGNAL_URL;
    this.type = plain ? "text/plain;charset=UTF-8" : "application/json";
    this.entries = new Map(); // id -> {token, signal, waiters}
    this.timer = null;
    for (const item of load()) this.entries.set(item.signal.id, { ...item, waiters: [] });
    addEventListener("pagehide", () => this.beaconAll());
    if (this.entries.size) this.kick();
  }

  /** Queue a signal for token and send it now; resolves with the server's acknowledgement. */
  send(token, signal) {
    return new Promise((resolve) => {
      this.entries.set(signal.id, { token, signal, waiters: [resolve] });
      this.persist();
      this.attempt(signal.id);
      this.kick();
    });
  }

  persist() {
    const items = [...this.entries.values()].map(({ token, signal }) => ({ token, signal }));
    try {
      if (items.length) localStorage.setItem(OUTBOX_KEY, JSON.stringify(items));
      else localStorage.removeItem(OUTBOX_KEY);
    } catch {
      // Storage may be full or disabled; the entry is still kept in memory.
    }
  }

  kick() {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (!this.entries.size) {
        clearInterval(this.timer);
        this.timer = null;
        return;
      }
      for (const id of this.entries.keys()) this.attempt(id);
    }, RESEND_MS);
  }

  settle(id, ack) {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    this.persist();
    for (const resolve of entry.waiters) resolve(ack);
  }

  attempt(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    const socket = this.getSocket();
    if (socket && socket.connected) {
      socket.timeout(RESEND_MS).emit(EV.SIGNAL, entry.signal, (err, ack) => {
        if (err) this.viaFetch(id); // no answer in time: try the other road too
        else this.settle(id, ack);
      });
    } else {
      this.viaFetch(id);
    }
  }

  async viaFetch(id) {
    const entry = this.entries.get(id);
    if (!entry) return;
    try {
      const response = await fetch(this.url, {
        method: "POST",
        keepalive: true,
        credentials: "omit",
        headers: { "Content-Type": this.type },
        body: JSON.stringify({ token: entry.token, signal: entry.signal }),
      });
      const ack = await response.json().catch(() => ({ ok: false }));
      // A 4xx other than 429 is a definite answer (a wrong PIN, a dead link): resending won't help.
      if (response.ok || (response.status >= 400 && response.status < 500 && response.status !== 429)) {
        this.settle(id, ack);
      }
    } catch {
      // Offline: the interval tries again in 2 s.
    }
  }

  beaconAll() {
    for (const { token, signal } of this.entries.values()) {
      const blob = new Blob([JSON.stringify({ token, signal })], { type: this.type });
      navigator.sendBeacon(`${this.url}?via=beacon`, blob);
    }
  }
}
