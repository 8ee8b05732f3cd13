/* An import's page (/admin/evidence/importrun/<id>/change/): while the run is queued or running, poll
   its status every second, move the progress bar, and reload the page once it has ended (the server
   renders the report). No inline script: the Content-Security-Policy allows this origin's files only. */
(function () {
  "use strict";
  var box = document.getElementById("import-run");
  if (!box || box.dataset.ended === "true") { return; }
  var bar = document.getElementById("import-progress");
  var status = document.getElementById("import-status");
  var count = document.getElementById("import-count");
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (state) {
        bar.value = state.percent;
        bar.textContent = state.percent + "%";
        status.textContent = state.status;
        count.textContent = state.total ? state.done + " of " + state.total + (state.label ? " " + state.label : "") : "";
        if (state.ended) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
})();
