// The client's page: invite -> PIN -> consent -> name and camera -> practice -> waiting room ->
// call; and, from every screen, the quick exit that shows the decoy before anything else.
import { api, ApiError } from "./api.js";
import { listenForChord, makeRule } from "./chord.js";
import { hideDecoy, onTripleTap, showDecoy, decoyShown } from "./decoy.js";
import { EV, KIND, NS, SOURCE } from "./events.js";
import { MediaLink, attachStream, startLocal, stopStream } from "./media.js";
import { MediaSocket } from "./mediasocket.js";
import { Outbox, newSignalId } from "./outbox.js";
import { announce, el, showStep } from "./status.js";
import { clearTraces, recall, remember } from "./traces.js";

const $main = document.querySelector("#main");
const $ = (sel) => document.querySelector(sel);

const state = {
  mode: "journey", // journey | practice | live | over
  inviteToken: null,
  pin: null,
  pinRequired: false,
  settings: null,
  name: "",
  camera: true,
  token: null, // the participant's capability token, once joined
  participantId: null,
  sessionKind: "one_to_one",
  socket: null,
  stream: null,
  media: null, // the connection to the session's relay (MediaSocket)
  link: null,
  peers: new Map(),
  remote: new Map(), // member id -> MediaStream from the relay
  peerTimer: null,
  paused: false,
  step: "loading",
  spoken: false, // the invite has the spoken safe word on: offer "Test my phrase" in the call
  phraseTest: null, // null | "asking" | "listening" | "heard"
};

const outbox = new Outbox(() => state.socket);
window.havenClient = { state, outbox }; // for the browser tests only: read, never relied on

function go(step, message) {
  state.step = step;
  showStep($main, step);
  $(".js-exit").hidden = step === "loading" || step === "invalid";
  if (message) announce(message);
  $main.focus({ preventScroll: true });
  const $h1 = $main.querySelector(`[data-step="${step}"] h1`);
  if ($h1 && !$h1.classList.contains("visually-hidden")) document.title = "Video appointment";
}

// -- the quick exit ------------------------------------------------------------------------------

function exitNow(source) {
  if (decoyShown()) return;
  showDecoy(); // first: before the next frame is painted
  if (state.mode === "practice" || state.step === "practice") {
    state.mode = "practice";
    return; // practice alerts nobody and sends nothing
  }
  state.phraseTest = null; // a real exit during a phrase test is a real exit
  teardownMedia();
  const token = state.token || state.inviteToken;
  if (token && state.mode !== "over") {
    outbox.send(token, { id: newSignalId(), kind: KIND.PANIC, source, at: Date.now() / 1000 });
  }
  state.paused = true;
  clearTraces();
  history.replaceState(null, "", "/ended");
  const decoy = state.settings && state.settings.decoy;
  if (decoy && decoy.kind === "url" && /^https?:\/\//.test(decoy.url || "")) location.replace(decoy.url);
}

function teardownMedia() {
  state.phraseTest = null;
  if (state.media) state.media.close(); // the relay drops this page's peer with it
  state.media = null;
  if (state.link) state.link.close();
  state.link = null;
  stopStream(state.stream);
  state.stream = null;
  for (const $v of document.querySelectorAll("video, audio")) {
    $v.pause();
    $v.srcObject = null;
  }
  $(".js-tiles").replaceChildren();
  $(".js-chat").replaceChildren();
  state.peers.clear();
  state.remote.clear();
}

function onChord() {
  if (decoyShown()) revealRejoin();
  else if (state.step !== "loading" && state.step !== "invalid") exitNow(SOURCE.KEYS);
}

/** The service may add a second chord (e.g. Control+Alt+H) beside Shift pressed three times. */
function applyTriggers(triggers) {
  if (triggers && triggers.alternative_chord) listenForChord(document, onChord, makeRule(triggers.alternative_chord));
}

function wireExit() {
  const $exit = $(".js-exit");
  $exit.addEventListener("click", (e) => {
    e.preventDefault();
    exitNow(SOURCE.CONTROL);
  });
  listenForChord(document, onChord);
  onTripleTap($(".js-clock"), () => {
    if (!state.settings || state.settings.triggers.touch_gesture !== false) exitNow(SOURCE.GESTURE);
  });
  onTripleTap($(".js-decoy-heading"), () => revealRejoin());
  $(".js-rejoin").addEventListener("submit", (e) => {
    e.preventDefault();
    rejoin($("#rejoin-code").value.trim());
  });
  // Restored from the back-forward cache: never show the call again.
  addEventListener("pageshow", (e) => {
    if (e.persisted && (state.paused || state.mode === "over" || decoyShown())) showDecoy();
  });
  setInterval(tick, 1000);
  tick();
}

function tick() {
  const now = new Date();
  $(".js-clock").textContent = now.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function revealRejoin() {
  if (state.mode === "over") return;
  const $form = $(".js-rejoin");
  $form.hidden = false;
  $("#rejoin-code").focus();
}

async function rejoin(pin) {
  const $error = $(".js-rejoin-error");
  if (state.phraseTest === "heard") {
    endPhraseTest(true);
    return;
  }
  if (state.mode === "practice") {
    hideDecoy();
    state.mode = "journey";
    $(".js-practice-done").hidden = false;
    go("practice", "Well done. That is all there is to it.");
    return;
  }
  if (!state.token) {
    $error.textContent = "That passcode didn't work.";
    $error.hidden = false;
    return;
  }
  const ack = await outbox.send(state.token, {
    id: newSignalId(),
    kind: KIND.RESUME,
    source: SOURCE.GESTURE,
    pin: pin || undefined,
    at: Date.now() / 1000,
  });
  if (!ack || !ack.ok) {
    $error.textContent = "That passcode didn't work.";
    $error.hidden = false;
    return;
  }
  // A normal PIN and the duress PIN end here alike: the page cannot tell them apart.
  $error.hidden = true;
  $("#rejoin-code").value = "";
  state.paused = false;
  hideDecoy();
  history.replaceState(null, "", "/join");
  remember({ token: state.token, kind: state.sessionKind, camera: state.camera, pinRequired: state.pinRequired, spoken: state.spoken });
  await connect();
}

// -- the journey ---------------------------------------------------------------------------------

async function openInvite() {
  try {
    const body = { token: state.inviteToken };
    if (state.pin) body.pin = state.pin;
    state.settings = await api("POST", "/api/invite/open", body);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && /PIN/.test(err.message)) {
      if (state.pin) throw err;
      state.pinRequired = true;
      go("pin");
      return;
    }
    throw err;
  }
  const s = state.settings;
  applyTriggers(s.triggers);
  state.sessionKind = s.session_kind;
  $(".js-confidentiality").textContent = s.confidentiality;
  $(".js-ground-rules").textContent = s.ground_rules;
  $(".js-retention").textContent = String(s.retention_days);
  $(".js-spoken").hidden = !s.spoken_safe_word;
  state.spoken = Boolean(s.spoken_safe_word);
  $(".js-settings").hidden = !state.spoken;
  if (s.chat_stored) $(".js-chat-stored").textContent = "Chat messages are stored with the session record.";
  if (s.decoy && s.decoy.kind === "url" && s.decoy.url) $(".js-exit").href = s.decoy.url;
  $(".js-no-pin").hidden = state.pinRequired;
  $(".js-back-pin").hidden = !state.pinRequired;
  go("consent", "Before you join. Please read how your information is used.");
}

function invalid(message) {
  $(".js-invalid-reason").textContent = message || "Ask the person who sent it for a new one.";
  go("invalid", "This link cannot be opened.");
}

function wireJourney() {
  $(".js-pin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const pin = $("#pin").value.trim();
    const $error = $(".js-pin-error");
    if (!/^\d{6}$/.test(pin)) {
      $error.textContent = "Enter the six digits of your PIN.";
      $error.hidden = false;
      $("#pin").setAttribute("aria-invalid", "true");
      $("#pin").focus();
      return;
    }
    state.pin = pin;
    try {
      await openInvite();
    } catch (err) {
      state.pin = null;
      $error.textContent = err.message;
      $error.hidden = false;
      $("#pin").setAttribute("aria-invalid", "true");
      $("#pin").focus();
    }
  });

  $(".js-consent-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const ok = $("#consent").checked;
    $(".js-consent-error").hidden = ok;
    if (!ok) {
      $("#consent").focus();
      return;
    }
    go("details", "How you will appear.");
  });

  $(".js-details-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("#display-name").value.trim();
    const ok = name.length > 0 && name.length <= 40;
    $(".js-name-error").hidden = ok;
    $("#display-name").toggleAttribute("aria-invalid", !ok);
    if (!ok) {
      $("#display-name").focus();
      return;
    }
    state.name = name;
    state.camera = $("#camera-on").checked;
    state.mode = "practice";
    go("practice", "Try the quick exit. This is practice.");
  });

  $(".js-join").addEventListener("click", async () => {
    state.mode = "journey";
    try {
      const joined = await api("POST", "/api/invite/join", {
        token: state.inviteToken,
        pin: state.pin,
        display_name: state.name,
        camera_off: !state.camera,
        consent: true,
      });
      state.token = joined.token;
      state.participantId = joined.participant_id;
      state.mode = "live";
      remember({ token: state.token, kind: state.sessionKind, camera: state.camera, pinRequired: state.pinRequired, spoken: state.spoken });
      go("waiting", "You are in the waiting room. Your facilitator will let you in shortly.");
      await connect();
    } catch (err) {
      const $error = $(".js-join-error");
      $error.textContent = err.message;
      $error.hidden = false;
    }
  });

  $(".js-chat-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const $input = $("#chat-text");
    const text = $input.value.trim();
    if (!text || !state.socket) return;
    $input.value = "";
    // Shown only once the server answers: a safe word is never shown, the decoy is up by then.
    state.socket.timeout(5000).emit(EV.CHAT, { id: newSignalId(), text }, (err, ack) => {
      if (!err && ack && ack.ok && !decoyShown() && state.step === "call") addChat("You", text, true);
    });
  });

  $(".js-step-away").addEventListener("click", () => stepAway());
  $(".js-test-phrase").addEventListener("click", () => (state.phraseTest ? endPhraseTest(false) : startPhraseTest()));

  $(".js-back-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const pin = $("#back-pin").value.trim();
    const ack = await outbox.send(state.token, {
      id: newSignalId(),
      kind: KIND.RESUME,
      source: SOURCE.CONTROL,
      pin: pin || undefined,
      at: Date.now() / 1000,
    });
    const $error = $(".js-back-error");
    if (!ack || !ack.ok) {
      $error.textContent = "That PIN is not right.";
      $error.hidden = false;
      return;
    }
    $error.hidden = true;
    $("#back-pin").value = "";
    state.paused = false;
    await enterCall();
  });
}

function stepAway() {
  teardownMedia();
  state.paused = true;
  go("away", "You have stepped away.");
  outbox.send(state.token, { id: newSignalId(), kind: KIND.STEP_AWAY, source: SOURCE.CONTROL, at: Date.now() / 1000 });
}

// -- the live part: socket, waiting room, call ---------------------------------------------------

function connect() {
  if (state.socket) state.socket.disconnect();
  const socket = window.io(NS.CLIENT, { auth: { token: state.token }, transports: ["websocket", "polling"], tryAllTransports: true });
  state.socket = socket;
  socket.on("connect", async () => {
    const ack = await socket.timeout(5000).emitWithAck(EV.STATE, {}).catch(() => null);
    if (!ack || !ack.ok) return;
    state.participantId = ack.participant_id;
    if (state.paused || decoyShown()) return;
    if (ack.paused) {
      exitNow(SOURCE.CONTROL);
      return;
    }
    if (ack.status === "admitted") await enterCall();
    else if (ack.status === "waiting") go("waiting");
  });
  socket.on("connect_error", () => {
    if (!socket.active) ended(); // refused: removed, denied or the link is dead
  });
  socket.on(EV.ADMITTED, async () => {
    // Asking for the state again puts this connection in the call's room (chat, peers).
    await socket.timeout(5000).emitWithAck(EV.STATE, {}).catch(() => null);
    if (!state.paused && !decoyShown()) enterCall();
  });
  socket.on(EV.PAUSED, (data) => {
    // A typed safe word or a facilitator's pause: the same neutral screen as the quick exit.
    // During a phrase test the practice decoy may already be up: this pause is real all the same.
    if (data && data.paused && (!decoyShown() || state.phraseTest) && state.step !== "away") {
      state.phraseTest = null;
      showDecoy();
      teardownMedia();
      state.paused = true;
      clearTraces();
      history.replaceState(null, "", "/ended");
    }
  });
  socket.on(EV.PRACTICE_HEARD, () => phraseHeard());
  socket.on(EV.REMOVED, () => ended());
  socket.on(EV.SESSION_ENDED, () => ended());
  socket.on(EV.PEER_STATE, (data) => {
    const peer = state.peers.get(data.participant_id);
    if (peer) {
      peer.away = Boolean(data.away);
      renderTiles();
    } else refreshPeers();
  });
  socket.on(EV.CHAT, (m) => {
    if (!state.paused && !decoyShown() && state.step === "call") addChat(m.name, m.text, false);
  });
  return Promise.resolve();
}

function ended() {
  state.mode = "over";
  teardownMedia();
  if (state.socket) state.socket.disconnect();
  clearInterval(state.peerTimer);
  showDecoy();
  clearTraces();
  history.replaceState(null, "", "/ended");
}

async function enterCall() {
  if (state.step === "call" && state.media) return;
  go("call", "You are in the call.");
  try {
    state.stream = await startLocal({ camera: state.camera });
  } catch {
    announce("Your camera or microphone could not be started. You can still chat.");
  }
  if (state.paused || decoyShown()) {
    // The exit was pressed while the camera was starting: stop what just started.
    stopStream(state.stream);
    state.stream = null;
    return;
  }
  await refreshPeers();
  clearInterval(state.peerTimer);
  state.peerTimer = setInterval(refreshPeers, 3000);
  if (state.media) state.media.close();
  state.media = new MediaSocket(askForRelay, { onOpen: startLink, onLost: stopLink });
  state.media.start();
}

/** Ask the signalling node which relay carries this call; null means "ask again shortly". */
async function askForRelay() {
  if (!state.socket || state.paused || decoyShown()) return false;
  const ack = await state.socket.timeout(5000).emitWithAck(EV.MEDIA, {}).catch(() => null);
  if (ack && !ack.ok && ack.code !== "unavailable") return false;
  return ack && ack.ok ? ack.media : null;
}

/** Connected to the relay (again): offer this page's camera and microphone there. */
function startLink(socket) {
  if (state.paused || decoyShown()) return;
  stopLink();
  const slots = state.sessionKind === "group" ? 12 : 1;
  state.link = new MediaLink(socket, { onTrack: addRemoteTrack });
  state.link.connect(state.stream, slots).catch(() => {});
}

/** The relay connection dropped: its tracks are gone until the page reconnects elsewhere. */
function stopLink() {
  if (state.link) state.link.close();
  state.link = null;
  state.remote.clear();
  renderTiles();
}

async function refreshPeers() {
  if (!state.token || state.paused || state.step !== "call") return;
  try {
    const data = await api("POST", "/api/client/peers", { token: state.token });
    const fresh = new Map();
    for (const p of data.peers) fresh.set(p.id, p);
    state.peers = fresh;
    renderTiles();
  } catch {
    /* the next poll tries again */
  }
}

// Tiles are keyed by member id: the relay names every forwarded stream after its source (the
// msid), so a stream id is a participant id (a client) or an account id (a facilitator).
function renderTiles() {
  if (state.paused || decoyShown()) return;
  const $tiles = $(".js-tiles");
  const keep = new Map([...$tiles.querySelectorAll("[data-peer]")].map(($t) => [$t.dataset.peer, $t]));
  const others = [...state.peers.values()].filter((p) => p.id !== state.participantId && (p.role !== "facilitator" || hasMedia(p.id)));
  const wanted = [{ id: "me", display_name: "You", me: true, away: false }, ...others];
  for (const p of wanted) {
    let $tile = keep.get(p.id);
    if (!$tile) {
      $tile = el("figure", { class: "tile", "data-peer": p.id }, el("div", { class: "tile__media" }), el("figcaption", { class: "tile__name" }));
      $tiles.append($tile);
    }
    keep.delete(p.id);
    // A paused client is "stepped away" to the other clients, whatever the reason, and nothing more.
    $tile.querySelector(".tile__name").textContent = p.away ? `${p.display_name} · stepped away` : p.display_name;
    $tile.classList.toggle("tile--away", Boolean(p.away));
    $tile.dataset.away = p.away ? "true" : "false";
    if (p.me) showOwnVideo($tile);
    else showRemote($tile, p);
  }
  for (const $t of keep.values()) {
    detachMedia($t);
    $t.remove();
  }
}

function hasMedia(id) {
  const stream = state.remote.get(id);
  return Boolean(stream && stream.getTracks().some((t) => t.readyState === "live"));
}

function showOwnVideo($tile) {
  if (!state.stream || $tile.querySelector("video") || !state.stream.getVideoTracks().length) return;
  const $v = el("video", { muted: true, autoplay: true, playsInline: true, "aria-label": "Your camera" });
  $v.srcObject = state.stream;
  $tile.querySelector(".tile__media").append($v);
}

function showRemote($tile, p) {
  const stream = state.remote.get(p.id);
  if (p.away || !stream) {
    detachMedia($tile);
    return;
  }
  attachStream($tile, p, stream);
}

function detachMedia($tile) {
  for (const $v of $tile.querySelectorAll("video")) {
    $v.pause();
    $v.srcObject = null;
    $v.remove();
  }
  $tile.classList.remove("tile--no-video");
}

function addRemoteTrack(track, stream) {
  if (state.paused || decoyShown()) {
    track.stop();
    return;
  }
  if (!stream) return; // the relay always names the source; an unnamed track is not shown
  const id = stream.id;
  if (!state.remote.has(id)) {
    state.remote.set(id, stream);
    const redraw = () => renderTiles();
    stream.addEventListener("addtrack", redraw);
    stream.addEventListener("removetrack", redraw);
  }
  track.addEventListener("unmute", () => renderTiles());
  track.addEventListener("ended", () => renderTiles());
  if (state.peers.has(id)) renderTiles();
  else refreshPeers(); // someone new: learn their name first, then show the tile
}

function addChat(name, text, mine) {
  const $item = el("li", { class: mine ? "chat__item chat__item--mine" : "chat__item" }, el("span", { class: "chat__name", text: `${name}: ` }), el("span", { text }));
  $(".js-chat").append($item);
  if (!mine) announce(`${name} says: ${text}`);
}

// -- testing the spoken phrase (practice: the server alerts nobody) -----------------------------

function phraseState(text) {
  const $state = $(".js-test-phrase-state");
  $state.textContent = text;
  $state.hidden = !text;
  if (text) announce(text);
}

function mediaSocket() {
  return state.media && state.media.connected ? state.media.socket : null;
}

async function startPhraseTest() {
  if (!state.socket || state.step !== "call") return;
  state.phraseTest = "asking";
  phraseState("Getting ready…");
  // Right after joining, the server may not be hearing this call's sound yet: ask a few times.
  for (let attempt = 0; attempt < 6 && state.phraseTest === "asking"; attempt += 1) {
    const socket = mediaSocket(); // the relay hears the call's sound, so it is asked there
    const ack = socket ? await socket.timeout(5000).emitWithAck(EV.PRACTICE_PHRASE, { on: true }).catch(() => null) : null;
    if (state.phraseTest !== "asking") return;
    if (ack && ack.ok && ack.listening) {
      state.phraseTest = "listening";
      $(".js-test-phrase").textContent = "Stop the test";
      phraseState("Say your phrase now… If it is heard you will see “This meeting has ended”, as in the practice. To come back, tap that heading three times (or press Shift three times) and choose Rejoin.");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (state.phraseTest !== "asking") return;
  state.phraseTest = null;
  phraseState("Your phrase isn't active for this call. Your facilitator can tell you more.");
}

/** The server heard the phrase in practice: show the decoy exactly as the practice step does. */
function phraseHeard() {
  if (state.phraseTest !== "listening" || decoyShown()) return;
  state.phraseTest = "heard";
  for (const $v of document.querySelectorAll("video")) $v.muted = true; // a decoy is silent
  showDecoy();
}

/** Turn practice off; back from the practice decoy, say how it went. */
function endPhraseTest(heard) {
  state.phraseTest = null;
  const socket = mediaSocket();
  if (socket) socket.emit(EV.PRACTICE_PHRASE, { on: false });
  $(".js-test-phrase").textContent = "Test my phrase";
  if (!heard) {
    phraseState("Test stopped.");
    return;
  }
  hideDecoy();
  $("#rejoin-code").value = "";
  for (const $v of document.querySelectorAll(".js-tiles video")) $v.muted = !$v.dataset.stream; // own camera stays muted
  $(".js-settings").open = true;
  go("call");
  phraseState("Well done: your phrase was heard. Nobody was told.");
  $(".js-test-phrase").focus();
}

// -- start ---------------------------------------------------------------------------------------

async function start() {
  wireExit();
  wireJourney();
  const fragment = location.hash.slice(1);
  if (fragment) {
    state.inviteToken = decodeURIComponent(fragment);
    // Take the token out of the address bar at once; the consent page says what history keeps.
    history.replaceState(null, "", "/join");
    remember({ invite: state.inviteToken });
  } else {
    const saved = recall();
    if (saved && saved.token) {
      Object.assign(state, { token: saved.token, sessionKind: saved.kind, camera: saved.camera, pinRequired: saved.pinRequired, spoken: Boolean(saved.spoken), mode: "live" });
      $(".js-settings").hidden = !state.spoken;
      $(".js-back-pin").hidden = !state.pinRequired;
      go("waiting");
      await connect();
      return;
    }
    if (saved && saved.invite) state.inviteToken = saved.invite;
  }
  if (!state.inviteToken) {
    invalid("Open the link from your invitation to join.");
    return;
  }
  try {
    await openInvite();
  } catch (err) {
    invalid(err.message);
  }
}

if (window.io) start();
else addEventListener("DOMContentLoaded", start, { once: true });
