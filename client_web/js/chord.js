// The keyboard chord detector: a line-by-line port of signals/chord.py, checked against the same
// vectors (tests/vectors/chord.json). Default: Shift released three times, at most 5 s apart.
const MODIFIER_KEYS = ["Control", "Alt", "Shift", "Meta"];

/** A chord rule such as {key: "Shift", presses: 3, window_s: 5} or "Control+Alt+H". */
export function makeRule({ key = "Shift", presses = 3, window_s = 5 } = {}) {
  const parts = key.split("+");
  const main = parts[parts.length - 1];
  return { key, presses, window_s, modifiers: new Set(parts.slice(0, -1)), main };
}

/** A fresh detector for a rule. */
export function makeDetector(rule = makeRule()) {
  return { rule, count: 0, lastPressAt: null, held: false, modified: false };
}

function eventModifiers(e) {
  const held = [e.ctrlKey, e.altKey, e.shiftKey, e.metaKey];
  return new Set(MODIFIER_KEYS.filter((_, i) => held[i]));
}

function sameSet(a, b) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function isKey(name, e) {
  if (e.key.toLowerCase() === name.toLowerCase()) return true;
  if (name.length === 1 && /^[A-Za-z0-9]$/.test(name)) {
    return (e.code || "") === `Key${name.toUpperCase()}` || (e.code || "") === `Digit${name}`;
  }
  return false;
}

function countPress(d, now) {
  const last = d.lastPressAt;
  const inWindow = last !== null && now - last >= 0 && now - last <= d.rule.window_s;
  const count = inWindow ? d.count + 1 : 1;
  if (count >= d.rule.presses) return [{ ...d, count: 0, lastPressAt: null }, true];
  return [{ ...d, count, lastPressAt: now }, false];
}

function stepSingle(d, e, now) {
  const rule = d.rule;
  if (!isKey(rule.main, e)) {
    const modified = d.held || eventModifiers(e).has(rule.main);
    return [{ ...d, count: 0, lastPressAt: null, modified }, false];
  }
  if (e.type === "keydown") {
    if (e.repeat) return [d, false];
    return [{ ...d, held: true, modified: false }, false];
  }
  const released = { ...d, held: false, modified: false };
  if (d.modified) return [{ ...released, count: 0, lastPressAt: null }, false];
  return countPress(released, now);
}

function stepCombination(d, e, now) {
  const rule = d.rule;
  if (e.type === "keyup" || e.repeat || rule.modifiers.has(e.key)) return [d, false];
  if (isKey(rule.main, e) && sameSet(eventModifiers(e), rule.modifiers)) return countPress(d, now);
  return [{ ...d, count: 0, lastPressAt: null }, false];
}

/** Feed one key event (type, key, code, ctrlKey...) at time now in seconds: [detector, fired]. */
export function stepChord(d, e, now) {
  return d.rule.modifiers.size ? stepCombination(d, e, now) : stepSingle(d, e, now);
}

/** Listen on target for the chord and call onFire(event) when it fires; returns a remover. */
export function listenForChord(target, onFire, rule = makeRule()) {
  let detector = makeDetector(rule);
  const handle = (e) => {
    let fired;
    [detector, fired] = stepChord(detector, e, performance.now() / 1000);
    if (fired) onFire(e);
  };
  target.addEventListener("keydown", handle, true);
  target.addEventListener("keyup", handle, true);
  return () => {
    target.removeEventListener("keydown", handle, true);
    target.removeEventListener("keyup", handle, true);
  };
}
