// The built-in decoy: a neutral "meeting ended" screen with a neutral title and favicon. Showing
// it is synchronous DOM work, so it is on screen in the next painted frame.
const TITLE = "Meeting ended";
const ICON = "/static/img/ended.svg";

let saved = null;

function setIcon(href) {
  let $icon = document.querySelector("link[rel=icon]");
  if (!$icon) {
    $icon = document.createElement("link");
    $icon.rel = "icon";
    document.head.append($icon);
  }
  $icon.href = href;
}

export function showDecoy() {
  const $decoy = document.querySelector(".js-decoy");
  const $app = document.querySelector(".js-app");
  if (!saved) saved = { title: document.title, icon: document.querySelector("link[rel=icon]")?.href };
  if ($app) {
    $app.hidden = true;
    $app.inert = true;
  }
  $decoy.hidden = false;
  document.title = TITLE;
  setIcon(ICON);
  document.documentElement.classList.add("is-decoy");
  const $form = $decoy.querySelector(".js-rejoin");
  if ($form) $form.hidden = true;
  $decoy.querySelector("h1").focus({ preventScroll: true });
}

export function hideDecoy() {
  const $decoy = document.querySelector(".js-decoy");
  const $app = document.querySelector(".js-app");
  $decoy.hidden = true;
  if ($app) {
    $app.hidden = false;
    $app.inert = false;
  }
  document.documentElement.classList.remove("is-decoy");
  if (saved) {
    document.title = saved.title;
    if (saved.icon) setIcon(saved.icon);
    saved = null;
  }
}

export function decoyShown() {
  return !document.querySelector(".js-decoy").hidden;
}

/** Call onGesture after three clicks or taps within 1.5 s on target. */
export function onTripleTap(target, onGesture) {
  let taps = [];
  target.addEventListener("pointerup", (e) => {
    const now = e.timeStamp;
    taps = taps.filter((t) => now - t < 1500);
    taps.push(now);
    if (taps.length >= 3) {
      taps = [];
      onGesture(e);
    }
  });
}
