/* Progressive enhancement for the public pages; everything works without it. */
(function () {
  "use strict";
  // Printing opens every collapsed evidence list so paper shows the quotes.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { if (!d.open) { d.dataset.printOpened = "1"; d.open = true; } });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details[data-print-opened]").forEach(function (d) { d.open = false; delete d.dataset.printOpened; });
  });
  // On an excerpt page, scroll the source window so the highlighted quote is in view.
  var mark = document.getElementById("quote");
  var box = mark && mark.closest(".source-text");
  if (box) { box.scrollTop = Math.max(0, mark.offsetTop - box.offsetTop - box.clientHeight / 3); }
})();
