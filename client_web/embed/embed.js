// Haven's drop-in exit widget: the one classic script a host page includes. It defines the single
// global `Haven`, then imports the widget's ES modules from Haven's origin (the same modules
// Haven's own client page uses). Nothing else is added to the page's globals.
//
//   <script src="https://haven.example.org/embed.js" data-token="…"></script>
// or
//   <script src="https://haven.example.org/embed.js"></script>
//   <script type="module">Haven.mount({ token, onPause, onResume });</script>
(function () {
  "use strict";
  if (window.Haven) return; // included twice: keep the first

  var script = document.currentScript;
  var origin = new URL(script.src, location.href).origin;
  var modules = import(origin + "/static/embed/widget.js");
  var mounted = null; // a promise of the mounted widget

  modules.catch(function (err) {
    // A host page without Haven in its CSP, or Haven not listing this origin: say so loudly to
    // the developer, never to the person on the page.
    console.error("Haven: the exit widget could not be loaded from " + origin + ".", err);
  });

  function mount(options) {
    if (mounted) return mounted;
    var opts = Object.assign({ havenOrigin: origin }, options || {});
    mounted = modules.then(function (m) {
      return m.mount(opts);
    });
    mounted.catch(function (err) {
      mounted = null;
      console.error("Haven: the exit widget could not start.", err);
    });
    return mounted;
  }

  function later(name) {
    return function () {
      var args = arguments;
      if (!mounted) return Promise.reject(new Error("Call Haven.mount({token}) first."));
      return mounted.then(function (widget) {
        return widget[name].apply(widget, args);
      });
    };
  }

  window.Haven = Object.freeze({
    version: "1",
    mount: mount,
    /** Check a chat message the client typed in the host's own chat for the safe word. */
    typed: later("typed"),
    /** The host's own disguised control: the same as the widget's. */
    exit: later("exit"),
    unmount: later("unmount"),
  });

  var token = script.dataset.token;
  if (token) {
    var fromTag = function () {
      mount({
        token: token,
        frame: script.dataset.frame !== undefined && script.dataset.frame !== "false",
        gestureTarget: script.dataset.gestureTarget || null,
        control: script.dataset.control !== "false",
      });
    };
    if (document.body) fromTag();
    else document.addEventListener("DOMContentLoaded", fromTag, { once: true });
  }
})();
