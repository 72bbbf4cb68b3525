// The facilitator console: sessions, invites, waiting room, call tiles, chat, alerts, timeline.
import { api } from "./api.js";
import { EV } from "./events.js";
import { MediaLink, attachStream, startLocal } from "./media.js";
import { MediaSocket } from "./mediasocket.js";
import { phraseFields } from "./phrase.js";
import { announce, el } from "./status.js";
import { AlertBoard, consoleSocket, renderTimeline, showSignedIn, signedIn, fmtTime } from "./staff.js";

const $ = (sel) => document.querySelector(sel);
const state = { socket: null, session: null, media: null, link: null, wantMedia: false, stats: new Map(), remote: new Map(), statsTimer: null, newPhrase: null, relayLost: null };
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
    openMedia(s);
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
  if (first) {
    announce(`Opened ${s.title}.`);
    pollStats();
  }
}

const REASON = { panic: "paused for safety", step_away: "stepped away", facilitator: "paused by a facilitator" };

function renderParticipants(s) {
  keepFocus(() => {
    const $waiting = $(".js-waiting");
    $waiting.replaceChildren();
    for (const p of s.participants.filter((x) => x.status === "waiting")) {
      $waiting.append(
        el(
          "li",
          { class: "row", "data-participant": p.id },
          el("span", { text: `${p.display_name}${p.camera_off ? " (camera off)" : ""}` }),
          el("button", { class: "button button--small js-admit", type: "button", "data-focus": `admit:${p.id}`, text: `Admit ${p.display_name}`, onclick: () => act(p, "admit") }),
          el("button", { class: "button button--quiet button--small js-deny", type: "button", "data-focus": `deny:${p.id}`, text: `Deny ${p.display_name}`, onclick: () => act(p, "deny") }),
        ),
      );
    }
    if (!$waiting.children.length) $waiting.append(el("li", { class: "quiet", text: "Nobody is waiting." }));
    renderTiles(s);
  }, "#waiting-h");
}

// Tiles are keyed by member id so a refresh keeps each video playing and keyboard focus in place.
function renderTiles(s) {
  const $tiles = $(".js-call-tiles");
  const keep = new Map([...$tiles.querySelectorAll("[data-participant]")].map(($t) => [$t.dataset.participant, $t]));
  const members = s.participants.filter((x) => x.status === "admitted").map((p) => ({ ...p, client: true }));
  // A co-facilitator's media arrives under their account id; they get a tile once it does.
  for (const id of [s.facilitator_id, s.co_facilitator_id]) {
    if (id && state.remote.has(id)) members.push({ id, display_name: "Co-facilitator", client: false });
  }
  for (const p of members) {
    let $tile = keep.get(p.id);
    if (!$tile) {
      $tile = newTile(p);
      $tiles.append($tile); // existing tiles stay put: moving one would drop keyboard focus
    }
    keep.delete(p.id);
    // Facilitators see the truth: who is paused and why.
    const paused = p.paused_reason ? ` · ${REASON[p.paused_reason] || p.paused_reason.replace("_", " ")}` : "";
    $tile.querySelector(".js-tile-name").textContent = `${p.display_name}${paused}`;
    $tile.classList.toggle("tile--away", Boolean(p.paused_reason));
    $tile.dataset.paused = p.paused_reason || "";
    showMedia($tile, p);
    showStats($tile);
  }
  for (const $t of keep.values()) {
    for (const $v of $t.querySelectorAll("video")) $v.srcObject = null;
    $t.remove();
  }
  $tiles.querySelector(".js-nobody")?.remove();
  if (!members.length) $tiles.append(el("p", { class: "quiet js-nobody", text: "Nobody is in the call yet." }));
}

function newTile(p) {
  const $tile = el(
    "figure",
    { class: "tile", "data-participant": p.id },
    el("div", { class: "tile__media", "data-media-for": p.id }),
    el("figcaption", { class: "tile__name" }, el("span", { class: "js-tile-name" }), el("small", { class: "tile__stats js-stats", text: "Media: no figures yet." }), el("small", { class: "tile__stats js-practice", hidden: true })),
  );
  if (p.client) {
    $tile.append(
      el("div", { class: "row" },
        el("button", { class: "button button--quiet button--small js-pause", type: "button", "data-focus": `pause:${p.id}`, text: `Pause ${p.display_name}`, onclick: () => act(p, "pause") }),
        el("button", { class: "button button--quiet button--small js-remove", type: "button", "data-focus": `remove:${p.id}`, text: `Remove ${p.display_name}`, onclick: () => act(p, "remove") })),
    );
  }
  return $tile;
}

function showMedia($tile, p) {
  const stream = state.remote.get(p.id);
  if (!stream) {
    const $old = $tile.querySelector("video");
    if ($old) {
      $old.srcObject = null;
      $old.remove();
    }
    return;
  }
  const $v = attachStream($tile, p, stream, { dimmed: Boolean(p.paused_reason) });
  if ($v.paused && !p.paused_reason) $v.play().catch(() => {});
}

function fmtStats(st) {
  if (!st) return "Media: no figures yet.";
  if (!st.connected) return "Media: connecting.";
  const kbps = (bps) => `${Math.round(bps / 1000)} kbit/s`;
  const rtt = st.rtt_ms >= 0 ? `${Math.round(st.rtt_ms)} ms` : "not known yet";
  return `Sends ${kbps(st.bitrate_in_bps)} · receives ${kbps(st.bitrate_out_bps)} · loss ${(100 * st.packet_loss).toFixed(1)} % · round trip ${rtt}`;
}

function showStats($tile) {
  $tile.querySelector(".js-stats").textContent = fmtStats(state.stats.get($tile.dataset.participant));
}

/** Ask the relay for everyone's figures (bitrate, loss, round trip) and show them on the tiles. */
async function pollStats() {
  if (!state.session || state.session.ended_at) return;
  const socket = state.media && state.media.connected ? state.media.socket : null;
  if (!socket) return; // the figures come from the session's relay
  const ack = await socket.timeout(5000).emitWithAck(EV.STATS, {}).catch(() => null);
  if (!ack || !ack.ok) return;
  state.stats = new Map(Object.entries(ack.stats || {}));
  if ([...state.stats.keys()].some((id) => !known(id))) await openSession(state.session.id);
  for (const $tile of document.querySelectorAll(".js-call-tiles [data-participant]")) showStats($tile);
}

/** Is this member (a participant, or a facilitator's account) in the session as last fetched? */
function known(id) {
  const s = state.session;
  return Boolean(s && (id === s.facilitator_id || id === s.co_facilitator_id || s.participants.some((p) => p.id === id && p.status === "admitted")));
}

/** Re-render while keeping keyboard focus on the same control, or on a fallback heading. */
function keepFocus(render, fallback) {
  const $active = document.activeElement;
  const key = $active && $active.dataset ? $active.dataset.focus : undefined;
  render();
  if (!key || document.activeElement === $active && $active.isConnected) return;
  const $same = document.querySelector(`[data-focus="${CSS.escape(key)}"]`);
  if ($same) $same.focus();
  else document.querySelector(fallback)?.focus();
}

// Invites are keyed by id and kept across refreshes: an open editor, unsaved text and a running
// calibration survive a waiting-room or participant update.
function renderInvites(s) {
  const $list = $(".js-invites");
  const keep = new Map([...$list.querySelectorAll("[data-invite]")].map(($li) => [$li.dataset.invite, $li]));
  $list.querySelector(".js-no-invites")?.remove();
  for (const inv of s.invites) {
    const $li = keep.get(inv.id) || $list.appendChild(inviteItem(s, inv));
    keep.delete(inv.id);
    const flags = [inv.has_pin ? "PIN set" : "no PIN", inv.has_duress_pin ? "duress PIN set" : null, inv.spoken_opt_in && inv.spoken_phrase ? "spoken phrase on" : null, inv.used ? "used" : "not used yet", inv.revoked ? "revoked" : null].filter(Boolean).join(" · ");
    $li.querySelector(".js-invite-flags").textContent = ` · ${flags}`;
  }
  for (const $li of keep.values()) $li.remove();
  if (!s.invites.length) $list.append(el("li", { class: "quiet js-no-invites", text: "No invites yet." }));
}

function inviteItem(s, inv) {
  const planId = `plan-${inv.id}`;
  const wordId = `word-${inv.id}`;
  const $plan = el("textarea", { id: planId, value: inv.safety_plan, maxLength: 4000 });
  const $word = el("input", { id: wordId, value: inv.safe_word, maxLength: 60, autocomplete: "off" });
  const spoken = phraseFields(`spoken-${inv.id}`, { phrase: inv.spoken_phrase || "", optIn: Boolean(inv.spoken_opt_in) });
  const save = async (e) => {
    e.preventDefault();
    try {
      await api("PATCH", `/api/sessions/${s.id}/invites/${inv.id}`, { safety_plan: $plan.value, safe_word: $word.value, spoken_phrase: spoken.phrase(), spoken_opt_in: spoken.optIn() });
      announce("Safety arrangements saved.");
      await openSession(s.id);
    } catch (err) {
      announce(err.message);
    }
  };
  const $details = el(
    "details",
    {},
    el("summary", { text: `Safety arrangements for ${inv.label || "this invite"}` }),
    el(
      "form",
      { class: "stack", onsubmit: save },
      el("div", { class: "field" }, el("label", { for: planId, text: "Safety plan" }), $plan),
      el("div", { class: "field" }, el("label", { for: wordId, text: "Typed safe word" }), $word),
      spoken.$root,
      el("button", { class: "button button--small", type: "submit", text: "Save" }),
    ),
  );
  // The first time it is opened, show whether the stored phrase is calibrated.
  $details.addEventListener("toggle", () => $details.open && spoken.status(), { once: true });
  return el("li", { "data-invite": inv.id }, el("strong", { text: inv.label || "Invite" }), el("span", { class: "quiet js-invite-flags" }), $details);
}

/** A client's spoken phrase was heard in practice: a quiet line on their tile. */
function practiceHeard(data) {
  const p = state.session && state.session.participants.find((x) => x.id === data.participant_id);
  const $tile = document.querySelector(`.js-call-tiles [data-participant="${CSS.escape(String(data.participant_id))}"]`);
  const text = `Practice: phrase heard (score ${data.score})`;
  if ($tile) {
    const $line = $tile.querySelector(".js-practice");
    $line.textContent = text;
    $line.hidden = false;
  }
  announce(`${p ? p.display_name : "A client"}: practice, phrase heard (score ${data.score}).`);
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
  state.newPhrase = phraseFields("invite-spoken");
  $(".js-new-invite-phrase").replaceWith(state.newPhrase.$root);
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
    if (state.newPhrase.phrase()) body.spoken_phrase = state.newPhrase.phrase();
    body.spoken_opt_in = state.newPhrase.optIn();
    const $error = $(".js-invite-error");
    try {
      const inv = await api("POST", `/api/sessions/${state.session.id}/invites`, body);
      $error.hidden = true;
      $(".js-invite-url").textContent = inv.url;
      $(".js-qr").src = inv.qr_svg;
      $(".js-invite-result").hidden = false;
      $(".js-new-invite").reset();
      state.newPhrase.reset();
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

/** Connect to the relay carrying this session: its figures now, camera and microphone on request. */
function openMedia(s) {
  if (state.media) state.media.close();
  stopLink();
  state.media = null;
  state.relayLost = null;
  relayStatus("");
  if (s.ended_at) return;
  const sessionId = s.id;
  const ask = async () => {
    const ack = await state.socket.timeout(5000).emitWithAck(EV.MEDIA, { session_id: sessionId }).catch(() => null);
    if (ack && !ack.ok && ack.code !== "unavailable") return false; // ended, or not ours
    return ack && ack.ok ? ack.media : null;
  };
  state.media = new MediaSocket(ask, {
    onOpen: (socket, relay) => {
      if (state.relayLost && state.relayLost !== relay) {
        state.relayLost = null;
        relayStatus("Sound and video are back.");
      }
      if (state.wantMedia) startLink(socket);
    },
    onLost: () => {
      stopLink();
      if (state.wantMedia) $(".js-media-state").textContent = "Media: reconnecting…";
    },
  });
  state.media.start();
}

/** The session's relay stopped: say so plainly, until media is back on another one. */
function relayLost(data) {
  if (!state.session || !data || data.session_id !== state.session.id) return;
  if (state.media && state.media.connected && state.media.relay !== data.relay) {
    relayStatus("The media relay for this session stopped; sound and video have reconnected.");
    return;
  }
  state.relayLost = data.relay || true;
  relayStatus("The media relay for this session stopped. Sound and video are reconnecting; anyone paused stays paused.");
}

function relayStatus(text) {
  const $status = $(".js-relay-status");
  $status.textContent = text;
  $status.hidden = !text;
}

async function joinMedia() {
  const $state = $(".js-media-state");
  if (state.wantMedia || !state.session) return;
  try {
    state.stream = await startLocal({ camera: true });
  } catch {
    $state.textContent = "Media: the camera or microphone could not be started.";
    return;
  }
  state.wantMedia = true;
  $state.textContent = "Media: connecting to the relay…";
  if (state.media && state.media.connected) startLink(state.media.socket);
}

function startLink(socket) {
  const $state = $(".js-media-state");
  stopLink();
  state.link = new MediaLink(socket, {
    onTrack: (track, stream) => {
      if (!stream) return; // the relay names every stream after its source; unnamed is not shown
      if (!state.remote.has(stream.id)) {
        state.remote.set(stream.id, stream);
        const redraw = () => state.session && renderTiles(state.session);
        stream.addEventListener("addtrack", redraw);
        stream.addEventListener("removetrack", redraw);
      }
      track.addEventListener("unmute", () => state.session && renderTiles(state.session));
      if (known(stream.id)) renderTiles(state.session);
      else openSession(state.session.id); // admitted elsewhere: fetch the names first
    },
    onState: (st) => {
      $state.textContent = st === "unavailable" ? "Media: the relay is not available; chat still works." : `Media: ${st}.`;
    },
  });
  state.link.connect(state.stream, state.session.kind === "group" ? 12 : 1).catch(() => {});
}

function stopLink() {
  if (state.link) state.link.close();
  state.link = null;
  if (state.remote.size) {
    state.remote.clear();
    if (state.session) renderTiles(state.session);
  }
}

function wireSocket() {
  const socket = state.socket;
  const refresh = () => state.session && openSession(state.session.id);
  socket.on(EV.WAITING, () => {
    announce("Someone is in the waiting room.");
    refresh();
  });
  socket.on(EV.PARTICIPANT_STATE, refresh);
  socket.on(EV.PARTICIPANT_ADMITTED, refresh);
  socket.on(EV.PRACTICE_HEARD, practiceHeard);
  socket.on(EV.RELAY_LOST, relayLost);
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
  state.statsTimer = setInterval(pollStats, 3000);
  const wanted = new URLSearchParams(location.search).get("session");
  if (wanted) await openSession(wanted);
}

if (window.io) start();
else addEventListener("DOMContentLoaded", start, { once: true });
