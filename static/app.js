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

// Keyboard shortcuts: an element with data-shortcut="KEY" is clicked when KEY is pressed,
// unless someone is typing. On the image page: arrows browse, Esc goes back, F, D.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  var element = document.querySelector('[data-shortcut="' + key + '"]');
  if (element) {
    event.preventDefault();
    element.click();
  }
});

// Copy buttons: data-copy="#selector" copies that element's text.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    });
  }
});
