// TaskFlow dashboard: keeps the overview live from the API's server-sent events.
(function () {
  "use strict";
  function start() {
    var state = document.getElementById("live-state");
    if (!state || !window.EventSource) { return; }
    var source = new EventSource("/dashboard/live");
    source.addEventListener("open", function () { state.textContent = "on"; });
    source.addEventListener("error", function () { state.textContent = "reconnecting…"; });
    source.addEventListener("overview", function (event) {
      var update;
      try { update = JSON.parse(event.data); } catch (e) { return; }
      state.textContent = "on";
      var values = update.values || {};
      document.querySelectorAll("[data-live]").forEach(function (element) {
        var key = element.getAttribute("data-live");
        if (Object.prototype.hasOwnProperty.call(values, key) && element.textContent !== values[key]) {
          element.textContent = values[key];
        }
      });
      // Fragments are rendered and escaped by the server.
      var fragments = update.fragments || {};
      document.querySelectorAll("[data-fragment]").forEach(function (element) {
        var key = element.getAttribute("data-fragment");
        if (Object.prototype.hasOwnProperty.call(fragments, key)) { element.innerHTML = fragments[key]; }
      });
      var alarm = document.getElementById("no-workers");
      if (alarm) { alarm.hidden = update.workers_online !== 0; }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
