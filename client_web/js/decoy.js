// The built-in decoy: a neutral "meeting ended" screen with a neutral title and favicon. Showing
// it is synchronous DOM work, so it is on screen in the next painted frame.
const TITLE = "Meeting ended";
const ICON = "/static/img/ended.svg";

let saved = null;

// The elements a decoy works on. Haven's own pages find them by their js-* hooks; the embed
// widget passes its own (inside its shadow root), no app to hide, and an absolute icon URL.
function pageView() {
  return { $decoy: document.querySelector(".js-decoy"), $app: document.querySelector(".js-app"), icon: ICON, rootClass: "is-decoy" };
}

function setIcon(href) {
  let $icon = document.querySelector("link[rel=icon]");
  const created = !$icon;
  if (created) {
    $icon = document.createElement("link");
    $icon.rel = "icon";
    document.head.append($icon);
  }
  $icon.href = href;
  return created ? $icon : null;
}

export function showDecoy(view = pageView()) {
  const { $decoy, $app } = view;
  if (!saved) saved = { title: document.title, icon: document.querySelector("link[rel=icon]")?.href, added: null };
  if ($app) {
    $app.hidden = true;
    $app.inert = true;
  }
  $decoy.hidden = false;
  document.title = TITLE;
  saved.added = setIcon(view.icon || ICON) || saved.added;
  if (view.rootClass) document.documentElement.classList.add(view.rootClass);
  const $form = $decoy.querySelector(".js-rejoin");
  if ($form) $form.hidden = true;
  $decoy.querySelector("h1").focus({ preventScroll: true });
}

export function hideDecoy(view = pageView()) {
  const { $decoy, $app } = view;
  $decoy.hidden = true;
  if ($app) {
    $app.hidden = false;
    $app.inert = false;
  }
  if (view.rootClass) document.documentElement.classList.remove(view.rootClass);
  if (saved) {
    document.title = saved.title;
    if (saved.icon) setIcon(saved.icon);
    else if (saved.added) saved.added.remove(); // the page had no icon: leave none behind
    saved = null;
  }
}

export function decoyShown(view = pageView()) {
  return !view.$decoy.hidden;
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
