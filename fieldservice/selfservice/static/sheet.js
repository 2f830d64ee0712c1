// A label sheet's page: follow the background job's progress until the PDF is ready.
(function () {
  "use strict";
  var box = document.querySelector("[data-sheet-progress]");
  if (!box) return;
  var labels = { done: box.dataset.labelReady, failed: box.dataset.labelFailed, running: box.dataset.labelRunning, queued: box.dataset.labelQueued };
  function poll() {
    fetch(box.dataset.sheetProgress, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (state) {
        // The labels are ready before the pages: WeasyPrint lays them all out at the end.
        var layout = state.status === "running" && state.done >= state.total;
        box.querySelector("[data-sheet-state]").textContent = layout ? box.dataset.labelLayout : labels[state.status] || "";
        box.querySelector("[data-sheet-bar]").value = state.done;
        box.querySelector("[data-sheet-done]").textContent = state.done;
        if (state.status === "done") box.querySelector("[data-sheet-download]").hidden = false;
        else if (state.status !== "failed") setTimeout(poll, 1500);
      }, function () { setTimeout(poll, 5000); });
  }
  poll();
})();
