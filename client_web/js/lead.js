// The safeguarding lead's view: on duty, every live alert with its age, escalations, review.
import { api } from "./api.js";
import { EV } from "./events.js";
import { announce, el } from "./status.js";
import { AlertBoard, consoleSocket, fmtTime, renderTimeline, showSignedIn, signedIn } from "./staff.js";

const $ = (sel) => document.querySelector(sel);
const state = { socket: null, board: null, escalations: new Map() };
window.havenLead = state; // for the browser tests only

function dutyText(on) {
  $(".js-duty-state").textContent = on ? "You receive live alerts and escalations." : "You are off duty: escalations go to the leads on duty.";
}

function addEscalation(a) {
  state.escalations.set(a.alert_id, a);
  const $list = $(".js-escalations");
  $list.replaceChildren(
    ...[...state.escalations.values()].map((x) =>
      el("li", { "data-alert": x.alert_id, class: "js-escalation" }, el("span", { class: "badge badge--alert", text: "Escalated" }), " ", el("strong", { text: x.display_name || "A client" }), ` in ${x.session_title || x.session_id}, raised ${fmtTime(x.raised_at)} · ${x.progress}`),
    ),
  );
}

async function loadSessions() {
  const { sessions } = await api("GET", "/api/sessions");
  const $select = $("#review-session");
  $select.replaceChildren(...sessions.map((s) => el("option", { value: s.id, text: `${s.title} · ${new Date(s.created_at * 1000).toLocaleString()}` })));
}

async function review() {
  const id = $("#review-session").value;
  if (!id) return;
  const { events } = await api("GET", `/api/sessions/${encodeURIComponent(id)}/events`);
  renderTimeline($(".js-timeline"), events);
  $(".js-export").href = `/api/sessions/${encodeURIComponent(id)}/export`;
  $(".js-export").hidden = false;
  announce(`Timeline shown: ${events.length} events.`);
}

async function start() {
  const me = await signedIn();
  showSignedIn(me);
  state.socket = consoleSocket();
  state.board = new AlertBoard(state.socket, $(".js-alerts"), { sound: () => $("#alert-sound").checked, lead: true });
  const track = (a) => {
    if (a.escalated) addEscalation(a);
  };
  state.socket.on(EV.ALERT, track);
  state.socket.on(EV.ALERT_UPDATE, track);
  state.socket.on(EV.ALERT_ESCALATED, async () => {
    const { alerts } = await api("GET", "/api/alerts");
    for (const a of alerts) {
      state.board.upsert(a);
      track(a);
    }
  });
  const $duty = $("#on-duty");
  $duty.checked = Boolean(me.on_duty);
  dutyText($duty.checked);
  $duty.addEventListener("change", async () => {
    const ack = await state.socket.timeout(5000).emitWithAck(EV.ON_DUTY, { on: $duty.checked }).catch(() => null);
    if (!ack || !ack.ok) {
      $duty.checked = !$duty.checked;
      announce((ack && ack.error) || "Could not change your duty status. Try again.");
      return;
    }
    dutyText(ack.on_duty);
    announce(ack.on_duty ? "You are on duty." : "You are off duty.");
  });
  $(".js-review").addEventListener("click", review);
  await loadSessions();
  const { alerts } = await api("GET", "/api/alerts");
  for (const a of alerts) {
    state.board.upsert(a);
    track(a);
  }
}

if (window.io) start();
else addEventListener("DOMContentLoaded", start, { once: true });
