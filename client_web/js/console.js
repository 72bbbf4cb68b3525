// The facilitator console: sessions, invites, waiting room, call tiles, chat, alerts, timeline.
import { api } from "./api.js";
import { EV } from "./events.js";
import { MediaLink, startLocal } from "./media.js";
import { announce, el } from "./status.js";
import { AlertBoard, consoleSocket, renderTimeline, showSignedIn, signedIn, fmtTime } from "./staff.js";

const $ = (sel) => document.querySelector(sel);
const state = { socket: null, session: null, link: null, stats: new Map() };
window.havenConsole = state; // for the browser tests only

async function loadSessions() {
  const { sessions } = await api("GET", "/api/sessions");
  const $list = $(".js-sessions");
  $list.replaceChildren();
  for (const s of sessions) {
    $list.append(
      el("li", {}, el("button", { class: "button button--quiet js-open-session", type: "button", "data-session": s.id, text: `${s.title} (${s.kind === "group" ? "group" : "one to one"})${s.ended_at ? " · ended" : ""}`, onclick: () => openSession(s.id) })),
    );
  }
  if (!sessions.length) $list.append(el("li", { class: "quiet", text: "No sessions yet." }));
}

async function openSession(id) {
  const s = await api("GET", `/api/sessions/${encodeURIComponent(id)}`);
  const first = !state.session || state.session.id !== id;
  state.session = s;
  if (first) {
    await state.socket.timeout(5000).emitWithAck(EV.WATCH, { session_id: id }).catch(() => null);
    $(".js-invite-result").hidden = true;
    $(".js-record").hidden = !s.ended_at;
    $(".js-chat").replaceChildren();
  }
  $(".js-session").hidden = false;
  $(".js-session-title").textContent = s.title;
  $(".js-session-meta").textContent = `${s.kind === "group" ? "Group" : "One to one"} · started ${fmtTime(s.created_at)}${s.ended_at ? ` · ended ${fmtTime(s.ended_at)}` : ""}`;
  $(".js-export").href = `/api/sessions/${encodeURIComponent(id)}/export`;
  $(".js-end").hidden = Boolean(s.ended_at);
  $(".js-record-when").textContent = `Session: ${new Date(s.created_at * 1000).toLocaleString()}${s.ended_at ? ` to ${fmtTime(s.ended_at)}` : ""}.`;
  renderParticipants(s);
  renderInvites(s);
  await loadTimeline();
  if (first) announce(`Opened ${s.title}.`);
}

function renderParticipants(s) {
  const $waiting = $(".js-waiting");
  $waiting.replaceChildren();
  for (const p of s.participants.filter((x) => x.status === "waiting")) {
    $waiting.append(
      el(
        "li",
        { class: "row", "data-participant": p.id },
        el("span", { text: `${p.display_name}${p.camera_off ? " (camera off)" : ""}` }),
        el("button", { class: "button button--small js-admit", type: "button", text: `Admit ${p.display_name}`, onclick: () => act(p, "admit") }),
        el("button", { class: "button button--quiet button--small js-deny", type: "button", text: `Deny ${p.display_name}`, onclick: () => act(p, "deny") }),
      ),
    );
  }
  if (!$waiting.children.length) $waiting.append(el("li", { class: "quiet", text: "Nobody is waiting." }));

  const $tiles = $(".js-call-tiles");
  $tiles.replaceChildren();
  for (const p of s.participants.filter((x) => x.status === "admitted")) {
    const paused = p.paused_reason ? ` · paused (${p.paused_reason.replace("_", " ")})` : "";
    const stats = state.stats.get(p.id);
    $tiles.append(
      el(
        "figure",
        { class: p.paused_reason ? "tile tile--away" : "tile", "data-participant": p.id },
        el("div", { class: "tile__media", "data-media-for": p.id }),
        el("figcaption", { class: "tile__name" }, el("span", { class: "js-tile-name", text: `${p.display_name}${paused}` }), el("br"), el("small", { class: "js-stats", text: stats || "media: no statistics yet" })),
        el("div", { class: "row" },
          el("button", { class: "button button--quiet button--small js-pause", type: "button", text: `Pause ${p.display_name}`, onclick: () => act(p, "pause") }),
          el("button", { class: "button button--quiet button--small js-remove", type: "button", text: `Remove ${p.display_name}`, onclick: () => act(p, "remove") })),
      ),
    );
  }
  if (!$tiles.children.length) $tiles.append(el("p", { class: "quiet", text: "Nobody is in the call yet." }));
}

function renderInvites(s) {
  const $list = $(".js-invites");
  $list.replaceChildren();
  for (const inv of s.invites) {
    const planId = `plan-${inv.id}`;
    const wordId = `word-${inv.id}`;
    const $plan = el("textarea", { id: planId, value: inv.safety_plan, maxLength: 4000 });
    const $word = el("input", { id: wordId, value: inv.safe_word, maxLength: 60, autocomplete: "off" });
    const flags = [inv.has_pin ? "PIN set" : "no PIN", inv.has_duress_pin ? "duress PIN set" : null, inv.used ? "used" : "not used yet", inv.revoked ? "revoked" : null].filter(Boolean).join(" · ");
    $list.append(
      el(
        "li",
        { "data-invite": inv.id },
        el("strong", { text: inv.label || "Invite" }),
        el("span", { class: "quiet", text: ` · ${flags}` }),
        el(
          "details",
          {},
          el("summary", { text: `Safety arrangements for ${inv.label || "this invite"}` }),
          el(
            "form",
            { class: "stack", onsubmit: async (e) => { e.preventDefault(); await api("PATCH", `/api/sessions/${s.id}/invites/${inv.id}`, { safety_plan: $plan.value, safe_word: $word.value }); announce("Safety arrangements saved."); } },
            el("div", { class: "field" }, el("label", { for: planId, text: "Safety plan" }), $plan),
            el("div", { class: "field" }, el("label", { for: wordId, text: "Typed safe word" }), $word),
            el("button", { class: "button button--small", type: "submit", text: "Save" }),
          ),
        ),
      ),
    );
  }
  if (!s.invites.length) $list.append(el("li", { class: "quiet", text: "No invites yet." }));
}

async function act(p, action) {
  try {
    await api("POST", `/api/sessions/${state.session.id}/participants/${p.id}/${action}`, {});
    announce({ admit: `${p.display_name} admitted.`, deny: `${p.display_name} turned away.`, remove: `${p.display_name} removed.`, pause: `${p.display_name} paused.` }[action]);
  } catch (err) {
    announce(err.message);
  }
  await openSession(state.session.id);
}

async function loadTimeline() {
  if (!state.session) return;
  const { events } = await api("GET", `/api/sessions/${state.session.id}/events`);
  renderTimeline($(".js-timeline"), events);
}

function wire() {
  $(".js-new-session").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { kind: $("#session-kind").value, title: $("#session-title").value.trim() };
    const co = $("#co-facilitator").value.trim();
    if (co) body.co_facilitator_email = co;
    try {
      const s = await api("POST", "/api/sessions", body);
      $(".js-new-session-box").open = false;
      await loadSessions();
      await openSession(s.id);
    } catch (err) {
      announce(err.message);
    }
  });
  $(".js-new-invite").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { label: $("#invite-label").value.trim(), safety_plan: $("#invite-plan").value, safe_word: $("#invite-safe-word").value.trim() };
    const pin = $("#invite-pin").value.trim();
    const duress = $("#invite-duress").value.trim();
    if (pin) body.pin = pin;
    if (duress) body.duress_pin = duress;
    const $error = $(".js-invite-error");
    try {
      const inv = await api("POST", `/api/sessions/${state.session.id}/invites`, body);
      $error.hidden = true;
      $(".js-invite-url").textContent = inv.url;
      $(".js-qr").src = inv.qr_svg;
      $(".js-invite-result").hidden = false;
      $(".js-new-invite").reset();
      $(".js-new-invite-box").open = false;
      announce("Invite created. Copy the link or show the QR code; it is shown only once.");
      await openSession(state.session.id);
    } catch (err) {
      $error.textContent = err.message;
      $error.hidden = false;
    }
  });
  $(".js-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($(".js-invite-url").textContent);
      announce("Link copied.");
    } catch {
      announce("Copying is not allowed here; select the link and copy it.");
    }
  });
  $(".js-chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("#chat-text").value.trim();
    if (!text || !state.session) return;
    $("#chat-text").value = "";
    await api("POST", `/api/sessions/${state.session.id}/chat`, { text }).catch((err) => announce(err.message));
  });
  $(".js-end").addEventListener("click", async () => {
    await api("POST", `/api/sessions/${state.session.id}/end`, {});
    announce("Session ended. Please write the session record.");
    await openSession(state.session.id);
    $(".js-record").hidden = false;
    $("#record-text").focus();
  });
  $(".js-record").addEventListener("submit", async (e) => {
    e.preventDefault();
    const $error = $(".js-record-error");
    try {
      await api("POST", `/api/sessions/${state.session.id}/record`, { headlines: $("#record-text").value });
      $error.hidden = true;
      $(".js-record").hidden = true;
      announce("Session record saved.");
      await loadTimeline();
    } catch (err) {
      $error.textContent = err.message;
      $error.hidden = false;
    }
  });
  $(".js-join-media").addEventListener("click", joinMedia);
  $("#alert-notify").addEventListener("change", async (e) => {
    if (e.target.checked && "Notification" in window && Notification.permission === "default") await Notification.requestPermission();
  });
}

async function joinMedia() {
  const $state = $(".js-media-state");
  if (state.link || !state.session) return;
  try {
    state.stream = await startLocal({ camera: true });
  } catch {
    $state.textContent = "Media: the camera or microphone could not be started.";
    return;
  }
  $state.textContent = "Media: connecting to the relay…";
  state.link = new MediaLink(state.socket, {
    extra: { session_id: state.session.id },
    onTrack: (track, stream) => {
      const $v = el("video", { autoplay: true, playsInline: true, muted: false, "aria-label": "Video from a client" });
      $v.srcObject = stream || new MediaStream([track]);
      $(".js-call-tiles").append(el("figure", { class: "tile" }, el("div", { class: "tile__media" }, $v)));
    },
    onState: (s) => {
      $state.textContent = s === "unavailable" ? "Media: the relay is not available; chat still works." : `Media: ${s}.`;
    },
  });
  await state.link.connect(state.stream, state.session.kind === "group" ? 12 : 1).catch(() => {});
  setInterval(async () => {
    const st = state.link && (await state.link.stats());
    if (st) $state.textContent = `Media: ${st.state}; received ${st.video} video and ${st.audio} audio packets, ${Math.round(st.bytes / 1024)} KB.`;
  }, 2000);
}

function wireSocket() {
  const socket = state.socket;
  const refresh = () => state.session && openSession(state.session.id);
  socket.on(EV.WAITING, () => {
    announce("Someone is in the waiting room.");
    refresh();
  });
  socket.on(EV.PARTICIPANT_STATE, refresh);
  socket.on(EV.ALERT_UPDATE, () => loadTimeline());
  socket.on(EV.ALERT, () => loadTimeline());
  socket.on(EV.CHAT, (m) => {
    $(".js-chat").append(el("li", { class: "chat__item" }, el("span", { class: "chat__name", text: `${m.name}: ` }), el("span", { text: m.text })));
  });
  socket.on("connect", () => {
    if (state.session) socket.emit(EV.WATCH, { session_id: state.session.id });
  });
  new AlertBoard(socket, $(".js-alerts"), { sound: () => $("#alert-sound").checked, notify: () => $("#alert-notify").checked });
}

async function start() {
  const me = await signedIn();
  showSignedIn(me);
  state.socket = consoleSocket();
  wireSocket();
  wire();
  await loadSessions();
  const wanted = new URLSearchParams(location.search).get("session");
  if (wanted) await openSession(wanted);
}

if (window.io) start();
else addEventListener("DOMContentLoaded", start, { once: true });
