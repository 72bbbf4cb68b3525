// Shared by the console and the lead view: sign-in, the console socket, and the alert cards.
import { api, ApiError, setCsrf } from "./api.js";
import { EV, NS } from "./events.js";
import { announce, el } from "./status.js";

const $ = (sel) => document.querySelector(sel);

export const SOURCE_LABEL = {
  control: "the disguised Help control",
  keys: "Shift pressed three times",
  gesture: "the hidden touch gesture",
  typed: "the typed safe word in chat",
  spoken: "the spoken safe word",
  facilitator: "a facilitator's pause",
  embed: "the embedded exit control",
};
const KIND_LABEL = { panic: "Paused for safety", step_away: "Stepped away", facilitator_pause: "Paused by a facilitator" };

/** Show the sign-in form until the account is signed in; resolves with the account. */
export async function signedIn() {
  try {
    const me = await api("GET", "/api/auth/me");
    setCsrf(me.csrf_token);
    return me;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
  $(".js-signin").hidden = false;
  for (const $x of document.querySelectorAll(".js-signed-in")) $x.hidden = true;
  $("#email").focus();
  return new Promise((resolve) => {
    $(".js-signin-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const $error = $(".js-signin-error");
      try {
        const me = await api("POST", "/api/auth/signin", { email: $("#email").value.trim(), password: $("#password").value });
        setCsrf(me.csrf_token);
        $error.hidden = true;
        $("#password").value = "";
        resolve(me);
      } catch (err) {
        $error.textContent = err.message;
        $error.hidden = false;
        $("#email").focus();
      }
    });
  });
}

export function showSignedIn(me) {
  $(".js-signin").hidden = true;
  for (const $x of document.querySelectorAll(".js-signed-in")) $x.hidden = false;
  $(".js-who").textContent = me.email;
  $(".js-signout").addEventListener("click", async () => {
    await api("POST", "/api/auth/signout", {}).catch(() => {});
    location.replace(location.pathname);
  });
}

export function consoleSocket() {
  return window.io(NS.CONSOLE, { transports: ["websocket", "polling"], tryAllTransports: true });
}

export function fmtTime(ts) {
  return new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function fmtAge(ts) {
  const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Keep the alert cards in $list in step with alerts from the socket; quiet unless asked. */
export class AlertBoard {
  constructor(socket, $list, { sound = () => false, notify = () => false, lead = false } = {}) {
    this.socket = socket;
    this.$list = $list;
    this.alerts = new Map();
    this.sound = sound;
    this.notify = notify;
    this.lead = lead;
    socket.on(EV.ALERT, (a) => this.received(a));
    // After every (re)connection, replay every open alert from the store: nothing is missed.
    socket.on("connect", async () => {
      const ack = await socket.timeout(5000).emitWithAck(EV.SYNC, {}).catch(() => null);
      if (ack && ack.ok) for (const a of ack.alerts) this.received(a);
    });
    socket.on(EV.ALERT_UPDATE, (a) => this.upsert(a));
    socket.on(EV.ALERT_ESCALATED, (d) => {
      const a = this.alerts.get(d.alert_id);
      if (a) this.upsert({ ...a, escalated: true });
      announce("An alert was escalated.");
    });
    setInterval(() => this.ages(), 1000);
    this.render();
  }

  received(a) {
    this.socket.emit(EV.ALERT_DELIVERED, { alert_id: a.alert_id }); // the server records delivery
    const fresh = !this.alerts.has(a.alert_id);
    this.upsert(a);
    if (fresh) this.tellSomeone(a);
  }

  tellSomeone(a) {
    announce(`Alert: ${a.display_name} ${KIND_LABEL[a.kind] || a.kind}, through ${SOURCE_LABEL[a.source] || a.source}.`);
    if (this.sound()) chime();
    if (this.notify() && "Notification" in window && Notification.permission === "granted") {
      new Notification("Haven alert", { body: `${a.session_title || "A session"}: a client needs attention.`, silent: true });
    }
  }

  upsert(a) {
    this.alerts.set(a.alert_id, a);
    this.render();
  }

  ages() {
    for (const $age of this.$list.querySelectorAll("[data-raised]")) $age.textContent = fmtAge(Number($age.dataset.raised));
  }

  render() {
    // Cards are rebuilt on every update: keep what a keyboard user was on, and any unsaved note.
    const $active = document.activeElement;
    const key = $active && this.$list.contains($active) ? $active.dataset.focus : undefined;
    const drafts = new Map([...this.$list.querySelectorAll("textarea[data-focus]")].map(($t) => [$t.dataset.focus, $t.value]));
    const open = [...this.alerts.values()].filter((a) => a.progress !== "resolved").sort((x, y) => y.raised_at - x.raised_at);
    this.$list.replaceChildren();
    if (!open.length) this.$list.append(el("p", { class: "quiet js-no-alerts", text: "No open alerts." }));
    for (const a of open) this.$list.append(this.card(a));
    for (const $t of this.$list.querySelectorAll("textarea[data-focus]")) if (drafts.has($t.dataset.focus)) $t.value = drafts.get($t.dataset.focus);
    if (!key) return;
    const alertId = key.slice(key.indexOf(":") + 1);
    // Acknowledged: the Acknowledge button is gone, so Resolve (same card) takes focus.
    const $next = this.$list.querySelector(`[data-focus="${CSS.escape(key)}"]`) || this.$list.querySelector(`[data-focus="${CSS.escape(`resolve:${alertId}`)}"]`);
    if ($next) $next.focus();
    else document.querySelector("#alerts-h")?.focus();
  }

  card(a) {
    const state = a.escalated ? `${a.progress}, escalated` : a.progress;
    const $note = el("textarea", { id: `note-${a.alert_id}`, rows: 2, "data-focus": `note:${a.alert_id}` });
    const $card = el(
      "article",
      { class: "alert-card js-alert", "data-alert": a.alert_id, "aria-labelledby": `alert-h-${a.alert_id}` },
      el("h3", { id: `alert-h-${a.alert_id}`, text: `${a.display_name}: ${KIND_LABEL[a.kind] || a.kind}` }),
      el(
        "dl",
        {},
        el("dt", { text: "Session" }), el("dd", { text: a.session_title || a.session_id }),
        el("dt", { text: "How" }), el("dd", { text: SOURCE_LABEL[a.source] || a.source }),
        el("dt", { text: "Raised" }), el("dd", {}, el("span", { text: fmtTime(a.raised_at) }), " (", el("span", { "data-raised": String(a.raised_at), text: fmtAge(a.raised_at) }), " ago)"),
        el("dt", { text: "State" }), el("dd", { class: "js-alert-state", text: state }),
        el("dt", { text: "Safety plan" }), el("dd", { class: "js-safety-plan", text: a.safety_plan || "None recorded." }),
        el("dt", { text: "Escalation" }), el("dd", { text: a.escalation_protocol || "" }),
      ),
    );
    const $actions = el("div", { class: "row" });
    if (a.progress !== "acknowledged") {
      $actions.append(el("button", { class: "button js-ack", type: "button", "data-focus": `ack:${a.alert_id}`, text: "Acknowledge", onclick: () => this.act(a, "acknowledge") }));
    }
    $actions.append(el("button", { class: "button button--quiet js-resolve", type: "button", "data-focus": `resolve:${a.alert_id}`, text: "Resolve", onclick: () => this.act(a, "resolve") }));
    const $form = el(
      "form",
      { class: "stack js-note-form", onsubmit: (e) => { e.preventDefault(); this.note(a, $note); } },
      el("label", { for: `note-${a.alert_id}`, text: "Add a note" }),
      $note,
      el("button", { class: "button button--quiet button--small", type: "submit", "data-focus": `save:${a.alert_id}`, text: "Save note" }),
    );
    $card.append($actions, $form);
    return $card;
  }

  async act(a, action) {
    try {
      await api("POST", `/api/alerts/${encodeURIComponent(a.alert_id)}/${action}`, {});
      if (action === "resolve") this.upsert({ ...a, progress: "resolved" });
      announce(action === "resolve" ? "Alert resolved." : "Alert acknowledged.");
    } catch (err) {
      announce(err.message);
    }
  }

  async note(a, $note) {
    const text = $note.value.trim();
    if (!text) return;
    try {
      await api("POST", `/api/alerts/${encodeURIComponent(a.alert_id)}/notes`, { text });
      $note.value = "";
      announce("Note saved.");
    } catch (err) {
      announce(err.message);
    }
  }
}

function chime() {
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 660;
    gain.gain.setValueAtTime(0.08, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.6);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.6);
  } catch {
    /* no audio: the status region already said it */
  }
}

/** Render a session's event log as a list. */
export function renderTimeline($list, events) {
  $list.replaceChildren(
    ...events.map((e) => {
      const bits = [];
      if (e.payload) {
        for (const k of ["kind", "source", "channel", "reason", "auth_state", "headlines", "note"]) {
          if (e.payload[k] !== undefined && e.payload[k] !== "") bits.push(`${k}: ${Array.isArray(e.payload[k]) ? e.payload[k].join(", ") : e.payload[k]}`);
        }
        if (e.payload.duress) bits.push("duress PIN");
      }
      return el("li", { "data-type": e.type }, el("time", { text: fmtTime(e.ts) }), " ", el("strong", { text: e.type }), bits.length ? ` (${bits.join("; ")})` : "");
    }),
  );
  if (!events.length) $list.append(el("li", { class: "quiet", text: "Nothing yet." }));
}
