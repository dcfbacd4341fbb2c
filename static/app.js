// Small behaviours htmx does not cover. No inline scripts anywhere (CSP: script-src 'self').
(function () {
  // Polling pauses while the tab is hidden: no requests nobody will see.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (document.hidden && source && (source.hasAttribute("data-poll") || source.getAttribute("aria-busy") === "true")) {
      event.preventDefault();
    }
  });
  // A card can arrive twice (our own submit, then the "new cards" check): keep the first.
  document.body.addEventListener("htmx:afterSettle", function () {
    var grid = document.getElementById("grid");
    if (!grid) return;
    var seen = {};
    Array.prototype.slice.call(grid.children).forEach(function (card) {
      if (!card.id) return;
      if (seen[card.id]) card.remove(); else seen[card.id] = true;
    });
  });
})();
