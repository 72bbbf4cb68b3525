// The exit widget on a host page: the same triggers as Haven's client page (the disguised
// control, Shift pressed three times, a triple tap, the typed safe word checked by Haven), the
// same decoy over the whole page, and callbacks so the host stops its own media and leaves its
// call. Haven's own modules are reused as they are: chord, decoy, events, outbox, traces.
import { listenForChord, makeRule } from "../js/chord.js";
import { decoyShown, hideDecoy, onTripleTap, showDecoy } from "../js/decoy.js";
import { KIND, SOURCE } from "../js/events.js";
import { newSignalId } from "../js/outbox.js";
import { clearHavenKeys } from "../js/traces.js";
import { FrameLink } from "./frame-link.js";
import { DirectLink } from "./link.js";
import { buildView } from "./view.js";

const ORIGIN = /^https?:\/\/[^/\s]+$/;

function callback(fn, name, detail) {
  // A host callback that throws must never stop the exit: report it and carry on.
  try {
    if (typeof fn === "function") fn(detail);
  } catch (err) {
    console.error(`Haven: the host's ${name} callback failed.`, err);
  }
  document.dispatchEvent(new CustomEvent(`haven:${name.replace(/^on/, "").toLowerCase()}`, { detail }));
}

function resolveElement(target) {
  if (!target) return null;
  return typeof target === "string" ? document.querySelector(target) : target;
}

class Widget {
  constructor(options) {
    const o = (this.options = options);
    this.paused = false;
    this.view = buildView({ control: o.control !== false, controlLabel: o.controlLabel || "Help" });
    this.decoyView = { $decoy: this.view.$decoy, $app: null, icon: `${o.havenOrigin}/static/img/ended.svg`, rootClass: null };
    this.restore = [];
    document.body.append(this.view.$host);
    const linkOptions = {
      origin: o.havenOrigin,
      token: o.token,
      root: this.view.root,
      onPaused: (paused) => {
        if (paused) this.pause(null);
      },
      onEnded: () => callback(o.onEnd, "onEnd", {}),
    };
    this.link = o.frame ? new FrameLink(linkOptions) : new DirectLink(linkOptions);
    this.removers = [];
    this.wire();
  }

  wire() {
    const v = this.view;
    v.$control.addEventListener("click", () => this.exit(SOURCE.CONTROL));
    this.removers.push(
      listenForChord(document, () => {
        if (decoyShown(this.decoyView)) this.revealRejoin();
        else this.exit(SOURCE.KEYS);
      }, makeRule(this.options.chord || {})),
    );
    const $gesture = resolveElement(this.options.gestureTarget);
    if ($gesture) onTripleTap($gesture, () => this.exit(SOURCE.GESTURE));
    onTripleTap(v.$heading, () => this.revealRejoin());
    v.$form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.rejoin(v.$code.value.trim());
    });
    const onShow = (e) => {
      // Restored from the back-forward cache: never show the call again.
      if (e.persisted && this.paused) showDecoy(this.decoyView);
    };
    addEventListener("pageshow", onShow);
    this.removers.push(() => removeEventListener("pageshow", onShow));
  }

  /** The quick exit: the decoy first, then the host's media, the signal and the callback. */
  exit(source = SOURCE.EMBED) {
    if (this.paused) return;
    const signal = { id: newSignalId(), kind: KIND.PANIC, source, at: Date.now() / 1000 };
    this.pause(signal);
  }

  pause(signal) {
    if (this.paused) return;
    this.paused = true;
    showDecoy(this.decoyView); // first: before the next frame is painted
    this.hideHost();
    if (signal) this.link.send(signal);
    callback(this.options.onPause, "onPause", { source: signal ? signal.source : "haven" });
    clearHavenKeys();
    const url = this.options.decoyUrl;
    if (url && /^https?:\/\//.test(url)) location.replace(url);
  }

  hideHost() {
    // The decoy covers the page; the page's media also goes quiet and inert at once, whatever
    // the host's callback does next.
    for (const $m of document.querySelectorAll("video, audio")) {
      this.restore.push(() => ($m.muted = $m.dataset.havenMuted === "true"));
      $m.dataset.havenMuted = String($m.muted);
      $m.muted = true;
      $m.pause();
    }
    for (const $el of document.body.children) {
      if ($el === this.view.$host || $el.inert) continue;
      $el.inert = true;
      this.restore.push(() => ($el.inert = false));
    }
  }

  showHost() {
    for (const undo of this.restore.splice(0)) undo();
    for (const $m of document.querySelectorAll("[data-haven-muted]")) delete $m.dataset.havenMuted;
  }

  revealRejoin() {
    this.view.$form.hidden = false;
    this.view.$code.focus();
  }

  async rejoin(pin) {
    const v = this.view;
    const ack = await this.link.send({ id: newSignalId(), kind: KIND.RESUME, source: SOURCE.GESTURE, pin: pin || undefined, at: Date.now() / 1000 });
    if (!ack || !ack.ok) {
      v.$error.textContent = "That passcode didn't work.";
      v.$error.hidden = false;
      return;
    }
    // A normal PIN and the duress PIN end here alike: the page cannot tell them apart.
    v.$error.hidden = true;
    v.$code.value = "";
    this.paused = false;
    hideDecoy(this.decoyView);
    this.showHost();
    callback(this.options.onResume, "onResume", {});
  }

  /** Check text the client typed in the host's chat; resolves false if Haven paused instead. */
  async typed(text) {
    if (typeof text !== "string" || !text.trim()) return true;
    if (this.paused) return false;
    const allowed = await this.link.typed(newSignalId(), text.slice(0, 2000));
    if (!allowed) this.pause(null); // the socket's "paused" may come a moment later
    return allowed;
  }

  unmount() {
    for (const remove of this.removers.splice(0)) remove();
    this.link.close();
    this.view.$host.remove();
  }
}

let current = null;

/** Mount the widget once per page; options: token, havenOrigin, frame, onPause, onResume... */
export function mount(options) {
  if (current) return current;
  if (!options || typeof options.token !== "string" || options.token.length < 16) {
    throw new TypeError("Haven.mount needs the participant token issued by Haven's API.");
  }
  if (!ORIGIN.test(options.havenOrigin || "")) {
    throw new TypeError("Haven.mount needs havenOrigin, such as https://haven.example.org.");
  }
  const widget = new Widget({ ...options });
  current = {
    exit: (source) => widget.exit(source || SOURCE.CONTROL),
    typed: (text) => widget.typed(text),
    unmount: () => {
      widget.unmount();
      current = null;
    },
    get paused() {
      return widget.paused;
    },
  };
  return current;
}
