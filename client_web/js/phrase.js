// The spoken safe phrase in the console: choose it with the client (check it in plain words),
// calibrate it against ordinary speech, and record the client's agreement to listening.
import { api } from "./api.js";
import { announce, el } from "./status.js";

const POLL_MS = 2000;
const CALIBRATING = "Calibrating against ordinary speech… (a few minutes the first time)";

/** Build the phrase field, its Check and Calibrate buttons and the opt-in box, ids under `prefix`. */
export function phraseFields(prefix, { phrase = "", optIn = false } = {}) {
  const ids = { phrase: `${prefix}-phrase`, hint: `${prefix}-phrase-hint`, result: `${prefix}-phrase-result`, optIn: `${prefix}-opt-in` };
  const $phrase = el("input", { id: ids.phrase, class: "js-phrase", value: phrase, maxLength: 60, autocomplete: "off", "aria-describedby": `${ids.hint} ${ids.result}` });
  const $result = el("div", { id: ids.result, class: "phrase-result js-phrase-result" });
  const $optIn = el("input", { type: "checkbox", id: ids.optIn, class: "js-opt-in", checked: optIn });
  const $check = el("button", { class: "button button--quiet button--small js-phrase-check", type: "button", text: "Check phrase" });
  const $calibrate = el("button", { class: "button button--quiet button--small js-phrase-calibrate", type: "button", text: "Calibrate" });
  const $root = el(
    "div",
    { class: "stack phrase" },
    el(
      "div",
      { class: "field" },
      el("label", { for: ids.phrase, text: "Spoken safe phrase" }),
      el("p", { class: "hint", id: ids.hint, text: "Choose it with the client: a few unusual words they would never say by chance, for example “blue umbrella”." }),
      $phrase,
      el("div", { class: "row" }, $check, $calibrate),
      $result,
    ),
    el("div", { class: "check" }, $optIn, el("label", { for: ids.optIn, text: "The client agreed to spoken safe-word listening" })),
  );
  const view = new PhraseView($phrase, $result);
  $check.addEventListener("click", () => view.check());
  $calibrate.addEventListener("click", () => view.calibrate());
  return {
    $root,
    phrase: () => $phrase.value.trim(),
    optIn: () => $optIn.checked,
    reset: () => view.clear(),
    status: () => view.status(),
  };
}

class PhraseView {
  constructor($phrase, $result) {
    this.$phrase = $phrase;
    this.$result = $result;
    this.timer = null;
    // A different phrase makes what is shown about the old one wrong: clear it.
    $phrase.addEventListener("input", () => this.clear());
  }

  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    this.$result.replaceChildren();
  }

  /** Show one line in the result area and say it through the status region. */
  say(text, cls = "") {
    this.$result.replaceChildren(el("p", { class: `phrase-result__line js-phrase-line ${cls}`.trim(), text }));
    announce(text);
  }

  async check() {
    const phrase = this.$phrase.value.trim();
    this.clear();
    if (!phrase) {
      this.say("Type a phrase first.");
      return;
    }
    try {
      const { problems } = await api("POST", "/api/phrases/check", { phrase });
      if (!problems.length) {
        this.say("No problems found.", "success");
        return;
      }
      const intro = problems.length === 1 ? "One problem with this phrase:" : `${problems.length} problems with this phrase:`;
      this.$result.replaceChildren(
        el("p", { class: "phrase-result__line", text: intro }),
        el("ul", { class: "js-phrase-problems" }, ...problems.map((p) => el("li", { "data-code": p.code, text: p.message }))),
      );
      announce(`${intro} ${problems.map((p) => p.message).join(" ")}`);
    } catch (err) {
      this.say(err.message, "error");
    }
  }

  async calibrate() {
    const phrase = this.$phrase.value.trim();
    this.clear();
    if (!phrase) {
      this.say("Type a phrase first.");
      return;
    }
    try {
      const answer = await api("POST", "/api/phrases/calibrate", { phrase });
      if (answer.status === "running") this.say(CALIBRATING);
      await this.poll(phrase);
    } catch (err) {
      this.say(err.message, "error");
    }
  }

  /** Ask how calibration of `phrase` is going; ask again every 2 s while it runs. */
  async poll(phrase) {
    if (!this.$result.isConnected || this.$phrase.value.trim() !== phrase) return;
    let s;
    try {
      s = await api("POST", "/api/phrases/status", { phrase });
    } catch (err) {
      this.say(err.message, "error");
      return;
    }
    if (this.$phrase.value.trim() !== phrase) return;
    if (s.status === "running") {
      if (!this.$result.textContent) this.say(CALIBRATING);
      this.timer = setTimeout(() => this.poll(phrase), POLL_MS);
    } else if (s.status === "done") {
      this.say(`Ready: about ${perTenHours(s.false_alarms_per_hour)} false alarms per 10 hours`, "success");
    } else if (s.status === "failed") {
      this.say(`Calibration did not finish: ${s.error || "the server gave no reason"}.`, "error");
    } else {
      this.say("Not calibrated yet.");
    }
  }

  /** Show the stored state of the current phrase once, quietly (no announcement). */
  async status() {
    const phrase = this.$phrase.value.trim();
    if (!phrase || this.$result.textContent) return;
    const s = await api("POST", "/api/phrases/status", { phrase }).catch(() => null);
    if (!s || this.$phrase.value.trim() !== phrase || this.$result.textContent) return;
    if (s.status === "running") await this.poll(phrase);
    else {
      const text = s.status === "done" ? `Ready: about ${perTenHours(s.false_alarms_per_hour)} false alarms per 10 hours` : "Not calibrated yet.";
      this.$result.replaceChildren(el("p", { class: "phrase-result__line js-phrase-line quiet", text }));
    }
  }
}

function perTenHours(perHour) {
  const n = 10 * (Number(perHour) || 0);
  return n >= 10 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}
