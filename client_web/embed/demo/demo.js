// The demo platform's call page: plain peer-to-peer WebRTC through a tiny WebSocket room. On the
// client's side it embeds Haven's widget; onPause stops every local track and leaves the call,
// onResume joins again. Haven never sees the media.
const $ = (sel) => document.querySelector(sel);
const role = document.body.dataset.role;
const room = document.body.dataset.room;

const call = {
  role,
  pc: null,
  ws: null,
  stream: null,
  tracks: [], // every local track this page ever started, for the tests to check
  pending: [],
  log: [], // what happened, in order: "joined", "connected", "onPause", "left", ...
  inCall: false,
};
window.demo = call; // the demo's own global, for the tests: read, never relied on

function status(text) {
  $(".js-call-state").textContent = text;
  const $s = $(".js-status");
  $s.textContent = "";
  requestAnimationFrame(() => ($s.textContent = text));
}

function send(message) {
  if (call.ws && call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify(message));
}

function closePeer() {
  if (call.pc) call.pc.close();
  call.pc = null;
  call.pending = [];
  $(".js-remote").srcObject = null;
}

function newPeer() {
  closePeer();
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of call.stream.getTracks()) pc.addTrack(track, call.stream);
  pc.ontrack = (e) => {
    $(".js-remote").srcObject = e.streams[0];
  };
  pc.onicecandidate = (e) => {
    if (e.candidate) send({ type: "candidate", candidate: e.candidate.toJSON() });
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === "connected") {
      call.log.push("connected");
      status("You are in the call.");
    }
  };
  call.pc = pc;
  return pc;
}

async function onSignal(m) {
  if (m.type === "welcome") {
    status(m.others ? "Connecting to the other person…" : "Waiting for the other person to join…");
    if (m.others) {
      const pc = newPeer(); // the newcomer makes the offer
      await pc.setLocalDescription(await pc.createOffer());
      send({ type: "offer", sdp: pc.localDescription.sdp });
    }
  } else if (m.type === "offer") {
    const pc = newPeer();
    await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    send({ type: "answer", sdp: pc.localDescription.sdp });
    for (const c of call.pending.splice(0)) await pc.addIceCandidate(c).catch(() => {});
  } else if (m.type === "answer" && call.pc) {
    await call.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
    for (const c of call.pending.splice(0)) await call.pc.addIceCandidate(c).catch(() => {});
  } else if (m.type === "candidate") {
    if (call.pc && call.pc.remoteDescription) await call.pc.addIceCandidate(m.candidate).catch(() => {});
    else call.pending.push(m.candidate);
  } else if (m.type === "left") {
    closePeer();
    call.log.push("peer-left");
    status("The other person left the call.");
  } else if (m.type === "chat") {
    addChat("Them", m.text);
  }
}

async function join() {
  if (call.inCall) return;
  call.inCall = true;
  call.stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  call.tracks.push(...call.stream.getTracks());
  $(".js-local").srcObject = call.stream;
  const ws = new WebSocket(`${location.origin.replace(/^http/, "ws")}/rooms/${room}/ws?role=${role}`);
  call.ws = ws;
  let chain = Promise.resolve();
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    chain = chain.then(() => onSignal(m)).catch(() => {});
  };
  call.log.push("joined");
}

/** Leave the call: stop every local track, close the peer connection and the room. */
function leave(reason) {
  call.inCall = false;
  for (const track of call.tracks) track.stop();
  closePeer();
  if (call.ws) call.ws.close();
  call.ws = null;
  $(".js-local").srcObject = null;
  call.log.push(reason);
  status("You left the call.");
}

function addChat(name, text) {
  const $item = document.createElement("li");
  $item.textContent = `${name}: ${text}`;
  $(".js-chat").append($item);
}

function wire() {
  $(".js-chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const $input = $("#chat-text");
    const text = $input.value.trim();
    if (!text) return;
    $input.value = "";
    // Haven checks the client's chat for the safe word before the platform passes it on.
    if (role === "client" && !(await window.Haven.typed(text))) return;
    send({ type: "chat", text });
    addChat("You", text);
  });
  $(".js-leave").addEventListener("click", () => leave("left"));
  const tick = () => ($(".js-clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  tick();
  setInterval(tick, 1000);
}

async function start() {
  wire();
  if (role === "client") {
    const response = await fetch(`/rooms/${room}/token`, { method: "POST" });
    const { token } = await response.json();
    await window.Haven.mount({
      token,
      frame: new URLSearchParams(location.search).has("frame"),
      gestureTarget: ".js-clock",
      onPause: () => {
        call.log.push("onPause");
        leave("left-for-haven");
      },
      onResume: () => {
        call.log.push("onResume");
        join();
      },
    });
    call.log.push("widget");
  }
  await join();
}

start();
