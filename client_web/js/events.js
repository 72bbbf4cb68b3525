// The socket.io event names and signal words: the only place they appear as strings in the pages.
export const EV = Object.freeze({
  // client namespace
  STATE: "state",
  SIGNAL: "signal",
  CHAT: "chat",
  ADMITTED: "admitted",
  REMOVED: "removed",
  SESSION_ENDED: "session_ended",
  PAUSED: "paused",
  PEER_STATE: "peer_state",
  PRACTICE_PHRASE: "practice_phrase", // sent on the media namespace
  // both namespaces: the spoken phrase was heard in practice
  PRACTICE_HEARD: "practice_heard",
  // client and console namespaces: where this page's media goes ({url, relay, ticket})
  MEDIA: "media",
  // media namespace (on the session's relay)
  OFFER: "offer",
  ICE: "ice",
  RENEGOTIATE: "renegotiate",
  // console namespace
  WATCH: "watch",
  SYNC: "sync",
  WAITING: "waiting",
  ALERT: "alert",
  ALERT_DELIVERED: "alert_delivered",
  ALERT_UPDATE: "alert_update",
  ALERT_ESCALATED: "alert_escalated",
  ALERT_NOTE: "alert_note",
  PARTICIPANT_STATE: "participant_state",
  PARTICIPANT_ADMITTED: "participant_admitted",
  ON_DUTY: "on_duty",
  RELAY_LOST: "relay_lost",
  // media namespace, consoles only
  STATS: "stats",
});

export const KIND = Object.freeze({ PANIC: "panic", STEP_AWAY: "step_away", RESUME: "resume" });
export const SOURCE = Object.freeze({
  CONTROL: "control",
  KEYS: "keys",
  GESTURE: "gesture",
  TYPED: "typed",
  EMBED: "embed",
});

export const NS = Object.freeze({ CLIENT: "/client", CONSOLE: "/console", MEDIA: "/media" });
