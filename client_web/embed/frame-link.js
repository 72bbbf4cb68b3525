// The iframe link: Haven's connection runs in a hidden frame on Haven's own origin
// (/embed/frame), and the host page talks to it with postMessage. Both ends check strictly:
// the host accepts a message only from that frame's window *and* Haven's origin (which the host
// passes as havenOrigin), and always names Haven's origin as the target; the frame does the
// same for the host's origin. Anything else is ignored.
const FRAME_PATH = "/embed/frame";
const FALLBACK_MS = 3000;

export class FrameLink {
  constructor({ origin, token, root, onPaused = () => {}, onEnded = () => {} }) {
    this.origin = origin;
    this.token = token;
    this.onPaused = onPaused;
    this.onEnded = onEnded;
    this.ready = false;
    this.queue = [];
    this.pending = new Map(); // id -> {signal, resolve}
    this.seq = 0;
    const src = new URL(FRAME_PATH, origin);
    src.searchParams.set("host", location.origin);
    this.$frame = document.createElement("iframe");
    this.$frame.src = src.href;
    this.$frame.title = "";
    this.$frame.tabIndex = -1;
    this.$frame.setAttribute("aria-hidden", "true");
    root.append(this.$frame);
    this.onMessage = (e) => this.receive(e);
    addEventListener("message", this.onMessage);
    this.onPageHide = () => this.beaconAll();
    addEventListener("pagehide", this.onPageHide);
  }

  receive(e) {
    if (e.origin !== this.origin || e.source !== this.$frame.contentWindow) return;
    const m = e.data;
    if (!m || m.haven !== 1 || typeof m.type !== "string") return;
    if (m.type === "ready") {
      this.ready = true;
      this.post({ type: "init", token: this.token });
      for (const msg of this.queue.splice(0)) this.post(msg);
    } else if (m.type === "ack") {
      const entry = this.pending.get(m.id);
      if (entry) {
        this.pending.delete(m.id);
        entry.resolve(m.ack);
      }
    } else if (m.type === "typed") {
      const entry = this.pending.get(m.id);
      if (entry) {
        this.pending.delete(m.id);
        entry.resolve(m.allowed !== false);
      }
    } else if (m.type === "paused") {
      this.onPaused(Boolean(m.paused));
    } else if (m.type === "ended") {
      this.onEnded();
    }
  }

  post(msg) {
    if (!this.ready) {
      this.queue.push(msg);
      return;
    }
    this.$frame.contentWindow.postMessage({ haven: 1, ...msg }, this.origin);
  }

  send(signal) {
    return new Promise((resolve) => {
      this.pending.set(signal.id, { signal, resolve });
      this.post({ type: "signal", signal });
      // If the frame never came up (blocked by the host's CSP, say), still deliver the signal:
      // a text/plain POST is a simple request, so it reaches Haven even without CORS.
      setTimeout(() => {
        if (!this.ready && this.pending.has(signal.id)) this.direct(signal, false);
      }, FALLBACK_MS);
    });
  }

  typed(id, text) {
    return new Promise((resolve) => {
      this.pending.set(id, { signal: null, resolve });
      this.post({ type: "typed", id, text });
    });
  }

  direct(signal, beacon) {
    const body = JSON.stringify({ token: this.token, signal });
    const url = new URL("/api/signal", this.origin);
    if (beacon) {
      url.searchParams.set("via", "beacon");
      navigator.sendBeacon(url.href, new Blob([body], { type: "text/plain;charset=UTF-8" }));
      return;
    }
    fetch(url.href, { method: "POST", mode: "no-cors", keepalive: true, credentials: "omit", headers: { "Content-Type": "text/plain;charset=UTF-8" }, body }).catch(() => {});
  }

  beaconAll() {
    // The page is going: the frame goes with it, so unacknowledged signals leave from here.
    for (const { signal } of this.pending.values()) if (signal) this.direct(signal, true);
  }

  close() {
    removeEventListener("message", this.onMessage);
    removeEventListener("pagehide", this.onPageHide);
    this.$frame.remove();
  }
}
