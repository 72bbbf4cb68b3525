// The widget's own elements, in a shadow root on one <haven-exit> element: the host's styles do
// not reach in (`all: initial`), and ours do not reach out (a constructed style sheet adopted by
// the shadow root only, which also needs no 'unsafe-inline' in the host's CSP).
import { el } from "../js/status.js";

const CSS = `
:host { all: initial !important; display: contents !important; }
.control {
  position: fixed; right: 12px; bottom: 12px; z-index: 2147483646;
  font: 14px/1.2 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  color: #1f2937; background: #fff; border: 1px solid #6b7280; border-radius: 4px;
  padding: 8px 12px; min-width: 44px; min-height: 44px; cursor: pointer;
}
.control:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.control[hidden] { display: none; }
/* The decoy: the same look as Haven's own (client_web/css/decoy.css). */
.decoy {
  position: fixed; inset: 0; z-index: 2147483647;
  display: flex; align-items: center; justify-content: center; padding: 1rem;
  background: #f3f4f6; color: #1f2937;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  box-sizing: border-box;
}
.decoy[hidden] { display: none; }
.decoy__card {
  background: #fff; border: 1px solid #d1d5db; border-radius: 8px;
  padding: 2rem 1.5rem; max-width: 26rem; width: 100%; text-align: center; box-sizing: border-box;
}
h1 { font-size: 1.4rem; font-weight: 600; margin: 0 0 .5rem; outline: none; user-select: none; -webkit-user-select: none; }
p { margin: 0; color: #4b5563; }
.rejoin { margin-top: 1.5rem; display: grid; gap: .5rem; text-align: left; }
.rejoin[hidden] { display: none; }
.rejoin input { font: inherit; padding: .5rem; border: 1px solid #6b7280; border-radius: 4px; }
.rejoin button { font: inherit; padding: .5rem 1rem; border: 0; border-radius: 4px; background: #374151; color: #fff; cursor: pointer; }
.rejoin :focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
.decoy__error { color: #b91c1c !important; }
.decoy__error[hidden] { display: none; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
iframe { position: absolute; width: 0; height: 0; border: 0; }
`;

let sheet = null;

function styles() {
  if (!sheet) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
  }
  return sheet;
}

/** Build the widget's elements in a new shadow root; return the host element and the parts. */
export function buildView({ controlLabel = "Help", control = true } = {}) {
  const $host = document.createElement("haven-exit");
  // Inline, important: a host rule such as `body > * { display: none }` must not hide the decoy.
  $host.style.setProperty("display", "contents", "important");
  const root = $host.attachShadow({ mode: "open" });
  root.adoptedStyleSheets = [styles()];

  const $control = el("button", { type: "button", class: "control", text: controlLabel });
  $control.hidden = !control;
  const $heading = el("h1", { tabIndex: -1, text: "This meeting has ended" });
  const $error = el("p", { class: "decoy__error", id: "haven-rejoin-error", role: "alert" });
  $error.hidden = true;
  const $code = el("input", {
    id: "haven-rejoin-code",
    inputMode: "numeric",
    maxLength: 6,
    autocomplete: "off",
    "aria-describedby": "haven-rejoin-error",
  });
  const $form = el(
    "form",
    { class: "js-rejoin rejoin", noValidate: true },
    el("label", { for: "haven-rejoin-code", text: "Meeting passcode" }),
    $error,
    $code,
    el("button", { type: "submit", text: "Rejoin" }),
  );
  $form.hidden = true;
  const $decoy = el(
    "div",
    { class: "decoy" },
    el("div", { class: "decoy__card", role: "main" }, $heading, el("p", { text: "Thank you for joining. You can close this window." }), $form),
  );
  $decoy.hidden = true;
  const $status = el("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
  root.append($control, $decoy, $status);
  return { $host, root, $control, $decoy, $heading, $form, $code, $error, $status };
}
