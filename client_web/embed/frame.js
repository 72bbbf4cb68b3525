// Inside the Haven frame (iframe mode): the same direct link as the widget, same-origin with
// Haven, driven by postMessage from the one host origin the server checked and named in ?host=.
// Messages from any other window or origin are ignored, and answers go only to that origin.
import { DirectLink } from "./link.js";

const host = new URL(location.href).searchParams.get("host");
let link = null;

function post(msg) {
  parent.postMessage({ haven: 1, ...msg }, host);
}

addEventListener("message", async (e) => {
  if (e.source !== parent || e.origin !== host) return;
  const m = e.data;
  if (!m || m.haven !== 1 || typeof m.type !== "string") return;
  if (m.type === "init" && !link && typeof m.token === "string") {
    link = new DirectLink({
      origin: location.origin,
      token: m.token,
      onPaused: (paused) => post({ type: "paused", paused }),
      onEnded: () => post({ type: "ended" }),
    });
  } else if (m.type === "signal" && link && m.signal && typeof m.signal === "object") {
    const ack = await link.send(m.signal);
    post({ type: "ack", id: m.signal.id, ack });
  } else if (m.type === "typed" && link && typeof m.text === "string") {
    const allowed = await link.typed(m.id, m.text);
    post({ type: "typed", id: m.id, allowed });
  }
});

if (host && parent !== window) post({ type: "ready" });
