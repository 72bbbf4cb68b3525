// Announce state changes through the page's role="status" region (never alert()).
export function announce(text) {
  const $status = document.querySelector(".js-status");
  if (!$status) return;
  // Clearing first makes screen readers repeat a message that happens to be the same.
  $status.textContent = "";
  requestAnimationFrame(() => {
    $status.textContent = text;
  });
}

/** Show one element among a group (by data-step) and hide the others. */
export function showStep(root, name) {
  for (const $el of root.querySelectorAll("[data-step]")) {
    $el.hidden = $el.dataset.step !== name;
  }
}

/** Build an element with text content only (untrusted text never becomes HTML). */
export function el(tag, props = {}, ...children) {
  const $el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") $el.className = v;
    else if (k === "text") $el.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for")
      $el.setAttribute(k, v);
    else $el[k] = v;
  }
  for (const c of children) if (c != null) $el.append(c);
  return $el;
}
