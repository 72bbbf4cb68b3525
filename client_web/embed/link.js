// The direct link from a page to Haven: the /client socket.io namespace with the participant's
// token, the shared outbox (acknowledgement, resend every 2 s, fetch keepalive, sendBeacon), and
// the typed-text check. Used by the widget on a host page (cross-origin: text/plain simple
// requests) and by the Haven frame in iframe mode (same-origin).
import { EV, NS } from "../js/events.js";
import { Outbox } from "../js/outbox.js";
import { io } from "/embed/socket.io.js";

const TYPED_URL = "/api/embed/typed";
const TYPED_TRIES = 3;

export class DirectLink {
  /** origin: Haven's origin; onPaused(paused) when Haven pauses; onEnded() when it is over. */
  constructor({ origin, token, onPaused = () => {}, onEnded = () => {} }) {
    const sameOrigin = origin === location.origin;
    this.base = sameOrigin ? "" : origin;
    this.token = token;
    this.plain = !sameOrigin;
    this.socket = io(this.base + NS.CLIENT, { auth: { token }, transports: ["websocket"] });
    this.outbox = new Outbox(() => this.socket, { base: this.base, plain: this.plain });
    this.socket.on("connect", async () => {
      const ack = await this.socket.timeout(5000).emitWithAck(EV.STATE, {}).catch(() => null);
      if (ack && ack.ok && ack.paused) onPaused(true);
    });
    this.socket.on(EV.PAUSED, (data) => onPaused(Boolean(data && data.paused)));
    this.socket.on(EV.REMOVED, () => onEnded());
    this.socket.on(EV.SESSION_ENDED, () => onEnded());
  }

  /** Queue a signal; resolves with Haven's acknowledgement once it is durable. */
  send(signal) {
    return this.outbox.send(this.token, signal);
  }

  /**
   * Ask Haven whether a chat message holds the client's safe word (only Haven knows it);
   * resolves true if the host may pass the message on, false if Haven paused the session.
   */
  async typed(id, text) {
    const body = JSON.stringify({ token: this.token, id, text });
    for (let i = 0; i < TYPED_TRIES; i++) {
      try {
        const response = await fetch(this.base + TYPED_URL, {
          method: "POST",
          keepalive: true,
          credentials: "omit",
          headers: { "Content-Type": this.plain ? "text/plain;charset=UTF-8" : "application/json" },
          body,
        });
        const answer = await response.json().catch(() => null);
        if (response.ok && answer) return !answer.paused;
        if (response.status < 500 && response.status !== 429) return true; // a definite no
      } catch {
        // offline: try again; the same id is recorded once
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
    return true;
  }

  close() {
    this.socket.disconnect();
  }
}
