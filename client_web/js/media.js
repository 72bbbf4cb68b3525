// Camera, microphone and the relay: the page offers, the server's relay always answers.
// Contract (socket.io, both namespaces): emit "offer" {sdp} -> ack {ok, sdp}; the server pushes
// "renegotiate" {recv_slots?} when the page should offer again (someone joined or left).
import { EV } from "./events.js";

const OFFER_TIMEOUT_MS = 5000;

/** Ask for the microphone, and the camera unless the person chose to join with it off. */
export async function startLocal({ camera }) {
  return navigator.mediaDevices.getUserMedia({ audio: true, video: camera ? { width: 640, height: 360 } : false });
}

/** Stop every local track (the camera light goes off) and detach the element showing it. */
export function stopStream(stream) {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
}

function preferCodec(transceiver, kind) {
  if (!RTCRtpReceiver.getCapabilities || !transceiver.setCodecPreferences) return;
  const wanted = kind === "video" ? "video/VP8" : "audio/opus";
  const codecs = RTCRtpReceiver.getCapabilities(kind)?.codecs || [];
  const first = codecs.filter((c) => c.mimeType.toLowerCase() === wanted.toLowerCase());
  const rest = codecs.filter((c) => c.mimeType.toLowerCase() !== wanted.toLowerCase() && /rtx|red|ulpfec/i.test(c.mimeType) === false);
  if (first.length) {
    try {
      transceiver.setCodecPreferences([...first, ...rest]);
    } catch {
      /* the browser refused the list; it negotiates its defaults */
    }
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

/** One connection to the relay for one page. */
export class MediaLink {
  constructor(socket, { onTrack, onState, extra = {} } = {}) {
    this.socket = socket;
    this.onTrack = onTrack || (() => {});
    this.onState = onState || (() => {});
    this.extra = extra; // e.g. {session_id} for a console
    this.pc = null;
    this.recvSlots = 0;
    this.closed = false;
    this.available = null; // null unknown, true relay answered, false no relay
    this.renegotiate = (data) => this.negotiate(data && data.recv_slots).catch(() => {});
    socket.on(EV.RENEGOTIATE, this.renegotiate);
  }

  /** Offer the local stream and recvSlots receive-only audio+video pairs for the others. */
  async connect(stream, recvSlots = 1) {
    this.pc = new RTCPeerConnection({ iceServers: [] });
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

  async negotiate(recvSlots) {
    if (this.closed || !this.pc) return;
    const wanted = Math.max(recvSlots || 0, this.recvSlots);
    for (; this.recvSlots < wanted; this.recvSlots += 1) {
      for (const kind of ["audio", "video"]) preferCodec(this.pc.addTransceiver(kind, { direction: "recvonly" }), kind);
    }
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    await iceComplete(this.pc); // the relay takes one complete offer: no trickle ICE
    let ack;
    try {
      ack = await this.socket.timeout(OFFER_TIMEOUT_MS).emitWithAck(EV.OFFER, { sdp: this.pc.localDescription.sdp, ...this.extra });
    } catch {
      ack = { ok: false, error: "The relay did not answer." };
    }
    if (!ack || !ack.ok || !ack.sdp) {
      this.available = false;
      this.onState("unavailable");
      return;
    }
    this.available = true;
    if (!this.closed) await this.pc.setRemoteDescription({ type: "answer", sdp: ack.sdp });
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
