// Camera, microphone and the relay: the page offers, the server's relay always answers.
// Contract (socket.io, both namespaces): emit "offer" {sdp} -> ack {ok, sdp}; the server pushes
// "renegotiate" {recv_slots?} when the page should offer again (someone joined or left).
import { EV } from "./events.js";
import { el } from "./status.js";

const OFFER_TIMEOUT_MS = 10000; // a group's first answer (26 m-lines) takes aiortc a while
const RETRIES = 3; // a refused offer (one was still open on the relay) is tried again
const RETRY_MS = 700;

/** Ask for the microphone, and the camera unless the person chose to join with it off. */
export async function startLocal({ camera }) {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: camera ? { width: 640, height: 360 } : false });
}

/** Stop every local track (the camera light goes off) and detach the element showing it. */
export function stopStream(stream) {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
}

// Offer only what the relay forwards (VP8 with RTX, Opus): the relay drops the rest anyway, and a
// group's offer with every codec on 26 m-lines outgrows the signalling message limit (64 KB).
function preferCodec(transceiver, kind) {
  if (!RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const wanted = kind === "video" ? /^video\/(vp8|rtx)$/i : /^audio\/opus$/i;
  const codecs = (RTCRtpReceiver.getCapabilities(kind)?.codecs || []).filter((c) => wanted.test(c.mimeType));
  if (!codecs.some((c) => !/rtx/i.test(c.mimeType))) return;
  try {
    transceiver.setCodecPreferences(codecs);
  } catch {
    /* the browser refused the list; it negotiates its defaults */
  }
}

function iceComplete(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", check);
    setTimeout(resolve, 3000); // a stuck candidate must not hold the call hostage
  });
}

/**
 * Show a member's stream in their tile's video element (made on first use) and return it; the
 * tile is marked "no video" while no video track is live, or when `dimmed`.
 */
export function attachStream($tile, p, stream, { dimmed = false } = {}) {
  let $v = $tile.querySelector("video");
  if (!$v) {
    $v = el("video", { autoplay: true, playsInline: true, "data-stream": p.id });
    $tile.querySelector(".tile__media").append($v);
  }
  if ($v.srcObject !== stream) $v.srcObject = stream;
  $v.setAttribute("aria-label", `Video of ${p.display_name}`);
  const seen = stream.getVideoTracks().some((t) => t.readyState === "live");
  $tile.classList.toggle("tile--no-video", !seen || dimmed);
  return $v;
}

/** One connection to the relay for one page. */
export class MediaLink {
  constructor(socket, { onTrack, onState, extra = {} } = {}) {
    this.socket = socket;
    this.onTrack = onTrack || (() => {});
    this.onState = onState || (() => {});
    this.extra = extra; // e.g. {session_id} for a console
    this.pc = null;
    this.recvSlots = 0;
    this.wantedSlots = 0;
    this.busy = null;
    this.again = false;
    this.closed = false;
    this.available = null; // null unknown, true relay answered, false no relay
    this.renegotiate = (data) => this.negotiate(data && data.recv_slots).catch(() => {});
    socket.on(EV.RENEGOTIATE, this.renegotiate);
  }

  /** Offer the local stream and recvSlots receive-only audio+video pairs for the others. */
  async connect(stream, recvSlots = 1) {
    // STUN/TURN come from the server (TURN credentials are per member and short-lived).
    const ice = await this.socket.timeout(5000).emitWithAck(EV.ICE, {}).catch(() => null);
    const iceServers = ice && ice.ok ? ice.ice_servers : [];
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    this.pc.addEventListener("track", (e) => this.onTrack(e.track, e.streams[0], e.transceiver));
    this.pc.addEventListener("connectionstatechange", () => this.onState(this.pc.connectionState));
    if (stream) {
      for (const track of stream.getTracks()) {
        const t = this.pc.addTransceiver(track, { direction: "sendonly", streams: [stream] });
        preferCodec(t, track.kind);
      }
    }
    await this.negotiate(recvSlots);
  }

  /** Offer again; offers never overlap (the relay refuses a second one while one is open). */
  negotiate(recvSlots) {
    this.wantedSlots = Math.max(recvSlots || 0, this.wantedSlots || 0);
    if (this.busy) {
      this.again = true; // someone joined or left meanwhile: offer once more when this one is done
      return this.busy;
    }
    this.busy = (async () => {
      try {
        do {
          this.again = false;
          await this.offerOnce();
        } while (this.again && !this.closed);
      } finally {
        this.busy = null;
      }
    })();
    return this.busy;
  }

  async offerOnce() {
    for (let attempt = 0; attempt < RETRIES && !this.closed && this.pc; attempt += 1) {
      if (attempt) await new Promise((r) => setTimeout(r, RETRY_MS * attempt));
      if (await this.offerAndApply()) return;
    }
    this.available = false;
    this.onState("unavailable");
  }

  async offerAndApply() {
    const pc = this.pc;
    for (; this.recvSlots < this.wantedSlots; this.recvSlots += 1) {
      for (const kind of ["audio", "video"]) preferCodec(pc.addTransceiver(kind, { direction: "recvonly" }), kind);
    }
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    await iceComplete(pc); // the relay takes one complete offer: no trickle ICE
    let ack;
    try {
      ack = await this.socket.timeout(OFFER_TIMEOUT_MS).emitWithAck(EV.OFFER, { sdp: pc.localDescription.sdp, ...this.extra });
    } catch {
      ack = null; // the relay did not answer in time
    }
    if (this.closed || pc !== this.pc) return true;
    if (!ack || !ack.ok || !ack.sdp) return false;
    try {
      await pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
    } catch {
      return false;
    }
    this.available = true;
    return true;
  }

  /** Inbound statistics for the console's tiles: packets and kbit/s per kind. */
  async stats() {
    if (!this.pc) return null;
    const out = { audio: 0, video: 0, bytes: 0, state: this.pc.connectionState };
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp") {
        out[r.kind] += r.packetsReceived || 0;
        out.bytes += r.bytesReceived || 0;
      }
    });
    return out;
  }

  /** Close the connection; every remote track ends. Idempotent. */
  close() {
    this.closed = true;
    this.socket.off(EV.RENEGOTIATE, this.renegotiate);
    if (this.pc) {
      for (const t of this.pc.getTransceivers()) {
        try {
          t.stop();
        } catch {
          /* already stopped */
        }
      }
      this.pc.close();
    }
    this.pc = null;
  }
}
