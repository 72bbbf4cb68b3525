// The page's connection to its session's relay. The signalling node says where (a URL, empty for
// this origin, and a short-lived signed ticket); the page connects there on the media namespace
// and, whenever that connection drops or is refused (the relay died, the session moved), asks
// again and reconnects: the signalling node places the session on a live relay.
import { NS } from "./events.js";

const RETRY_MS = [500, 1000, 2000, 3000];

export class MediaSocket {
  /**
   * ask() resolves to {url, relay, ticket}, to null (try again shortly) or to false (give up).
   * onOpen(socket, relay) runs after every connection; onLost(relay) when one drops.
   */
  constructor(ask, { onOpen, onLost } = {}) {
    this.ask = ask;
    this.onOpen = onOpen || (() => {});
    this.onLost = onLost || (() => {});
    this.socket = null;
    this.relay = null;
    this.tries = 0;
    this.timer = null;
    this.closed = true;
  }

  /** Ask where the media goes and connect there. */
  start() {
    this.closed = false;
    this.attempt();
  }

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  async attempt() {
    if (this.closed) return;
    const media = await this.ask().catch(() => null);
    if (this.closed) return;
    if (media === false) return;
    if (!media || typeof media.ticket !== "string") {
      this.retry();
      return;
    }
    const socket = window.io((media.url || "") + NS.MEDIA, {
      auth: { ticket: media.ticket },
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnection: false, // a new connection needs a new ticket, maybe for another relay
      forceNew: true,
    });
    this.socket = socket;
    this.relay = media.relay || null;
    socket.on("connect", () => {
      this.tries = 0;
      this.onOpen(socket, this.relay);
    });
    socket.on("connect_error", () => this.dropped(socket, false));
    socket.on("disconnect", () => this.dropped(socket, true));
  }

  dropped(socket, wasOpen) {
    if (socket !== this.socket) return;
    this.socket = null;
    socket.close();
    if (wasOpen) this.onLost(this.relay);
    this.retry();
  }

  retry() {
    if (this.closed) return;
    const ms = RETRY_MS[Math.min(this.tries, RETRY_MS.length - 1)];
    this.tries += 1;
    this.timer = setTimeout(() => this.attempt(), ms);
  }

  /** Close for good (left the call, paused, switched session). Idempotent. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
  }
}
