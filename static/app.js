// Small behaviours htmx does not cover. No inline scripts anywhere (CSP: script-src 'self').
(function () {
  // Polling pauses while the tab is hidden: no requests nobody will see. Where the page has
  // the live poller (#poller), it alone polls: an in-flight card waits for its news.
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var source = event.detail.elt;
    if (!source || !source.hasAttribute) return;
    var card = source.getAttribute("aria-busy") === "true";
    var polled = !event.detail.requestConfig.triggeringEvent;  // `every` polls have no event
    if ((document.hidden && (source.hasAttribute("data-poll") || card)) ||
        (card && polled && document.getElementById("poller"))) {
      event.preventDefault();
    }
  });
  // Live updates: the fetch of what changed names the in-flight cards this page shows...
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (!event.detail.elt.hasAttribute("data-changes")) return;
    var busy = document.querySelectorAll('#grid [aria-busy="true"][id^="gen-"]');
    event.detail.parameters.card = Array.prototype.map.call(busy, function (card) {
      return card.id.slice(4);
    });
  });
  // ...and each comes back as a <template data-card="gen-UUID"> that takes that card's place.
  document.body.addEventListener("htmx:afterSwap", function () {
    var fresh = Array.prototype.slice.call(document.querySelectorAll("#grid template[data-card]"));
    // All out of the page before any swap: each swap fires htmx:afterSwap again, which must
    // find none of them (else it swaps them again, without end).
    fresh.forEach(function (template) { template.remove(); });
    fresh.forEach(function (template) {
      var card = document.getElementById(template.getAttribute("data-card"));
      if (card) htmx.swap(card, template.innerHTML, { swapStyle: "outerHTML" });
    });
  });
  // A card can arrive twice (our own submit, then the "new cards" check): keep the first.
  // Checked after every swap and whenever new content lands: a card that replaces itself
  // (outerHTML) settles on an element no longer in the page, so only htmx:load sees it.
  function keepFirstOfEachCard() {
    var grid = document.getElementById("grid");
    if (!grid) return;
    var seen = {};
    Array.prototype.slice.call(grid.children).forEach(function (card) {
      if (!card.id) return;
      if (seen[card.id]) card.remove(); else seen[card.id] = true;
    });
  }
  document.body.addEventListener("htmx:afterSettle", keepFirstOfEachCard);
  document.body.addEventListener("htmx:load", keepFirstOfEachCard);
})();

// Keyboard shortcuts: an element with data-shortcut="KEY" is clicked when KEY is pressed,
// unless someone is typing. On the image page: arrows browse, Esc goes back, F, D.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
  // Only the open lightbox, or the image page, answers to keys; never the grid's tiles.
  var open = document.querySelector("dialog[open]");
  var scope = open || document.querySelector("[data-shortcuts]");
  if (!scope) return;
  var element = scope.querySelector('[data-shortcut="' + key + '"]');
  if (!element) return;
  event.preventDefault();
  if (element.hasAttribute("hx-get")) {
    // Content just swapped in may not be wired by htmx yet: ask for it directly.
    htmx.ajax("GET", element.getAttribute("hx-get"), {
      target: element.getAttribute("hx-target") || element,
      swap: element.getAttribute("hx-swap") || "innerHTML",
    });
  } else {
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

// Selecting many: "Select all on page" ticks every tile; shift-click ticks a range.
(function () {
  var last = null;
  document.addEventListener("click", function (event) {
    var all = event.target.closest && event.target.closest("[data-select-all]");
    if (all) {
      var boxes = document.querySelectorAll('#grid input[name="image"]');
      var tick = Array.prototype.some.call(boxes, function (box) { return !box.checked; });
      boxes.forEach(function (box) { box.checked = tick; });
      return;
    }
    var box = event.target;
    if (!box.matches || !box.matches('#grid input[name="image"]')) return;
    if (event.shiftKey && last) {
      var list = Array.prototype.slice.call(document.querySelectorAll('#grid input[name="image"]'));
      var from = list.indexOf(last), to = list.indexOf(box);
      list.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (b) { b.checked = box.checked; });
    }
    last = box;
  });
})();

// The lightbox: on the gallery, a tile opens in a dialog (its link still opens the page
// without JavaScript, or with a modifier key). Esc closes it, as dialogs do.
document.addEventListener("click", function (event) {
  var close = event.target.closest && event.target.closest("[data-close-dialog]");
  if (close) {
    close.closest("dialog").close();
    return;
  }
  var link = event.target.closest && event.target.closest("a[data-lightbox]");
  var dialog = document.getElementById("lightbox");
  if (!link || !dialog || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  htmx.ajax("GET", link.getAttribute("data-lightbox"), { target: dialog, swap: "innerHTML" }).then(function () {
    if (!dialog.open) dialog.showModal();
  });
});

// A long scroll keeps the page light: past data-max-tiles, whole rows that have scrolled out
// of sight above are dropped (the view stays put), and a link leads back to the newest. Rows
// are justified, so they differ in length: a row is the tiles that share one offsetTop, and
// only whole rows go (the rows below then break exactly as before).
document.addEventListener("htmx:afterSettle", function () {
  var grid = document.getElementById("grid");
  if (!grid || !grid.dataset.maxTiles) return;
  var tiles = Array.prototype.slice.call(grid.querySelectorAll("article.tile"));
  var extra = tiles.length - parseInt(grid.dataset.maxTiles, 10);
  if (extra <= 0) return;
  var rows = [];
  tiles.forEach(function (tile) {
    var row = rows[rows.length - 1];
    if (row && row[0].offsetTop === tile.offsetTop) row.push(tile); else rows.push([tile]);
  });
  var drop = [];
  for (var i = 0; i < rows.length - 1; i++) {
    var row = rows[i];
    if (drop.length + row.length > extra || row[0].getBoundingClientRect().bottom >= 0) break;
    drop = drop.concat(row);
  }
  if (!drop.length) return;
  var before = document.documentElement.scrollHeight;
  drop.forEach(function (tile) { tile.remove(); });
  window.scrollBy(0, document.documentElement.scrollHeight - before);
  if (!document.getElementById("back-to-newest")) {
    var back = document.createElement("a");
    back.id = "back-to-newest";
    back.className = "more";
    back.href = window.location.pathname + window.location.search;
    back.textContent = "Newer images were set aside: back to the newest";
    grid.insertBefore(back, grid.firstChild);
  }
});

// Justified rows read each tile's shape with CSS attr(); a browser that cannot gets it here.
function shapeTiles(root) {
  (root.querySelectorAll ? root.querySelectorAll(".grid > .tile[data-r]") : []).forEach(function (tile) {
    if (getComputedStyle(tile).flexGrow !== "0") return;
    tile.style.setProperty("--r", String(parseInt(tile.getAttribute("data-r"), 10) / 1000 || 1));
  });
}
document.addEventListener("htmx:load", function (event) { shapeTiles(event.detail.elt.parentNode || document); });
document.addEventListener("DOMContentLoaded", function () { shapeTiles(document); });

// In-flight cards: the elapsed time and the bar move every second from the figures the card
// came with (seconds so far, seconds the model usually takes), counted from when this page
// received it, so the two clocks need not agree. No request: live updates bring the news.
(function () {
  function spell(seconds) {
    var whole = Math.floor(seconds);
    return whole >= 60 ? Math.floor(whole / 60) + " min " + (whole % 60) + " s" : whole + " s";
  }
  setInterval(function () {
    var now = Date.now();
    document.querySelectorAll("[data-elapsed]").forEach(function (card) {
      if (!card.seenAt) card.seenAt = now;
      var elapsed = parseInt(card.getAttribute("data-elapsed"), 10) + (now - card.seenAt) / 1000;
      var text = card.querySelector("[data-elapsed-text]");
      if (text) text.textContent = spell(elapsed);
      var expected = parseFloat(card.getAttribute("data-expected"));
      var bar = card.querySelector("progress");
      if (bar && expected > 0) bar.value = Math.min(elapsed, expected * 0.97);
    });
  }, 1000);
})();

// The composer's Options: whether they start open is kept for the person. Toggling tells the
// server (the disclosure's data-open is what it holds, so a disclosure rendered open, or
// swapped in with a new model, sends nothing). `toggle` does not bubble: listen while capturing.
document.addEventListener("toggle", function (event) {
  var details = event.target;
  if (!details.matches || !details.matches("details[data-remember]")) return;
  var open = details.open ? "1" : "0";
  if (details.getAttribute("data-open") === open) return;
  details.setAttribute("data-open", open);
  var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  headers["HX-Request"] = "true";
  headers["Content-Type"] = "application/x-www-form-urlencoded";
  fetch(details.getAttribute("data-remember"), {
    method: "POST", headers: headers, body: "options_open=" + open, credentials: "same-origin",
  });
}, true);
