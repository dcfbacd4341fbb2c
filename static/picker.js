// The Model select, made a searchable list: an ARIA 1.2 combobox with a listbox popup.
//
// The select stays in the form and stays the truth: choosing here sets its value and
// dispatches `change`, so htmx swaps in the model's fields exactly as when choosing in the
// select itself (no JavaScript, scripts and tests still use the select). Everything an entry
// shows comes from the options' data attributes (gallery/images/picker.py).
(function () {
  "use strict";
  var FILTERS = [["text-to-image", "Text to image"], ["edit", "Edit"], ["upscale", "Upscale"], ["mask", "Mask"]];
  var CAPS = {"text-to-image": "text to image", edit: "edit", upscale: "upscale", mask: "mask"};
  var serial = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function csrfToken() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (e) { return ""; }
  }

  function readModels(select) {
    return Array.prototype.map.call(select.options, function (option) {
      var data = option.dataset;
      return {
        id: option.value,
        name: data.name || option.textContent,
        provider: data.provider || "",
        caps: (data.caps || "").split(" ").filter(Boolean),
        price: data.price || "",
        time: data.time || "",
        why: option.disabled ? (data.why || "not available") : "",
        favorite: data.favorite === "1",
        recent: data.recent === undefined ? -1 : Number(data.recent),
      };
    });
  }

  function matches(model, words, caps) {
    var text = (model.name + " " + model.id + " " + model.provider).toLowerCase();
    return words.every(function (w) { return text.indexOf(w) !== -1; }) &&
      caps.every(function (c) { return model.caps.indexOf(c) !== -1; });
  }

  // Favorites first, then the latest used, then the rest in the select's own order.
  function sections(models) {
    var favorites = models.filter(function (m) { return m.favorite; });
    var recent = models.filter(function (m) { return !m.favorite && m.recent >= 0; })
      .sort(function (a, b) { return a.recent - b.recent; });
    var rest = models.filter(function (m) { return !m.favorite && m.recent < 0; });
    return [["Favorites", favorites], ["Recently used", recent], ["All models", rest]];
  }

  function enhance(select) {
    if (select.dataset.enhanced) return;
    select.dataset.enhanced = "1";
    var n = ++serial;
    var models = readModels(select);
    var byId = {};
    models.forEach(function (m) { byId[m.id] = m; });
    // What the list shows, the entry the keys are on, the pressed filters, and whether the
    // person has typed: until then the box holds the chosen model's name, not a search.
    var shown = [], active = -1, caps = [], typed = false;

    var box = el("div", {class: "picker"});
    var input = el("input", {
      type: "text", role: "combobox", id: "picker-input-" + n, autocomplete: "off",
      spellcheck: "false", "aria-autocomplete": "list", "aria-expanded": "false",
      "aria-controls": "picker-list-" + n, "aria-describedby": "picker-current-" + n,
      "aria-label": "Choose a model: type its name, id or provider",
      placeholder: "Type to find a model",
    });
    var star = el("button", {type: "button", class: "picker-star", "aria-pressed": "false",
      title: "Favorite: list this model first"});
    var current = el("p", {class: "picker-current", id: "picker-current-" + n});
    var pop = el("div", {class: "picker-pop"});
    pop.hidden = true;
    var chips = el("div", {class: "picker-chips", role: "group", "aria-label": "Only models for"});
    FILTERS.forEach(function (f) {
      var chip = el("button", {type: "button", class: "chip", "aria-pressed": "false", "data-cap": f[0]}, f[1]);
      chips.appendChild(chip);
    });
    var list = el("div", {role: "listbox", id: "picker-list-" + n, "aria-label": "Models", class: "picker-list"});
    var count = el("p", {class: "picker-count", role: "status"});
    pop.append(chips, list, count);
    box.append(input, star, current, pop);
    select.classList.add("picker-native");
    select.setAttribute("tabindex", "-1");
    select.setAttribute("aria-hidden", "true");
    select.after(box);
    // The visible "Model" label still names the select for scripts; a click on it searches.
    var label = select.id && document.querySelector('label[for="' + select.id + '"]');
    if (label) label.addEventListener("click", function (e) { e.preventDefault(); input.focus(); });

    function describe(m) {
      var caps = m.caps.map(function (c) { return CAPS[c] || c; }).join(", ");
      return [m.provider, caps, m.price, m.time].filter(Boolean).join(" · ");
    }

    function showCurrent() {
      var m = byId[select.value];
      if (!m) return;
      if (input.getAttribute("aria-expanded") === "false") input.value = m.name;
      current.textContent = describe(m);
      star.setAttribute("aria-pressed", m.favorite ? "true" : "false");
      // The pressed state says it to screen readers; the glyph is for eyes.
      star.textContent = " Favorite model";
      star.prepend(el("span", {"aria-hidden": "true"}, m.favorite ? "★" : "☆"));
    }

    function render() {
      var words = !typed ? [] : input.value.toLowerCase().split(/\s+/).filter(Boolean);
      list.textContent = "";
      shown = [];
      sections(models).forEach(function (section) {
        var found = section[1].filter(function (m) { return matches(m, words, caps); });
        if (!found.length) return;
        var group = el("div", {role: "group", "aria-label": section[0], class: "picker-group"});
        found.forEach(function (m) {
          var index = shown.length;
          var option = el("div", {role: "option", id: "picker-" + n + "-" + index, class: "picker-option",
            "aria-selected": m.id === select.value ? "true" : "false", "data-index": String(index)});
          if (m.why) option.setAttribute("aria-disabled", "true");
          var head = el("span", {class: "picker-name"}, m.name);
          var mark = el("span", {class: "picker-mark", "data-star": m.id, title: m.favorite ? "Unstar" : "Star"},
            m.favorite ? "★" : "☆");
          // The star's state is read out with the name; the glyph itself is for pointers.
          mark.setAttribute("aria-hidden", "true");
          head.prepend(mark);
          if (m.favorite) head.append(el("span", {class: "visually-hidden"}, ", favorite"));
          option.append(head, el("span", {class: "picker-id"}, m.id),
            el("span", {class: "picker-meta"}, describe(m)));
          if (m.why) option.append(el("span", {class: "picker-why"}, m.why));
          group.appendChild(option);
          shown.push(m);
        });
        list.appendChild(group);
      });
      count.textContent = shown.length ? shown.length + (shown.length === 1 ? " model" : " models")
        : "No model matches; try fewer words or another filter.";
      var chosen = shown.findIndex(function (m) { return m.id === select.value && !words.length; });
      move(chosen >= 0 ? chosen : (shown.length ? 0 : -1));
    }

    function move(index) {
      var old = list.querySelector(".picker-option.active");
      if (old) old.classList.remove("active");
      active = index;
      var option = index >= 0 && document.getElementById("picker-" + n + "-" + index);
      if (!option) { input.removeAttribute("aria-activedescendant"); return; }
      option.classList.add("active");
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    }

    function open() {
      if (!pop.hidden) return;
      pop.hidden = false;
      input.setAttribute("aria-expanded", "true");
      render();
    }

    function close(restore) {
      if (pop.hidden) return;
      pop.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      typed = false;
      if (restore) showCurrent();
    }

    function choose(index) {
      var m = shown[index];
      if (!m || m.why) return false;
      close(false);
      if (select.value !== m.id) {
        select.value = m.id;
        select.dispatchEvent(new Event("change", {bubbles: true}));
      }
      showCurrent();
      return true;
    }

    function toggleFavorite(id) {
      var m = byId[id];
      if (!m) return;
      var body = new URLSearchParams({model: id, starred: m.favorite ? "0" : "1"});
      fetch(select.dataset.picker, {method: "POST", body: body, credentials: "same-origin",
        headers: {"X-CSRFToken": csrfToken(), Accept: "application/json"}})
        .then(function (r) { if (!r.ok) throw new Error("status " + r.status); return r.json(); })
        .then(function (data) {
          models.forEach(function (model) { model.favorite = data.favorites.indexOf(model.id) !== -1; });
          showCurrent();
          if (!pop.hidden) render();
        })
        .catch(function () { current.textContent = "Could not save the favorite; try again."; });
    }

    input.addEventListener("focus", function () { input.select(); });
    input.addEventListener("click", open);
    input.addEventListener("input", function () { typed = true; open(); render(); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (pop.hidden) { open(); return; }
        var step = e.key === "ArrowDown" ? 1 : -1;
        if (shown.length) move((active + step + shown.length) % shown.length);
      } else if ((e.key === "Home" || e.key === "End") && !pop.hidden && e.altKey) {
        e.preventDefault();
        move(e.key === "Home" ? 0 : shown.length - 1);
      } else if (e.key === "Enter" && !pop.hidden) {
        // Enter picks; it never submits the form while the list is open.
        e.preventDefault();
        choose(active);
      } else if (e.key === "Escape" && !pop.hidden) {
        e.preventDefault();
        e.stopPropagation();
        close(true);
      }
    });
    list.addEventListener("mousedown", function (e) { e.preventDefault(); });
    list.addEventListener("click", function (e) {
      var mark = e.target.closest("[data-star]");
      if (mark) { toggleFavorite(mark.dataset.star); return; }
      var option = e.target.closest('[role="option"]');
      if (option) choose(Number(option.dataset.index));
    });
    chips.addEventListener("click", function (e) {
      var chip = e.target.closest("[data-cap]");
      if (!chip) return;
      var on = chip.getAttribute("aria-pressed") !== "true";
      chip.setAttribute("aria-pressed", on ? "true" : "false");
      caps = Array.prototype.map.call(chips.querySelectorAll('[aria-pressed="true"]'),
        function (c) { return c.dataset.cap; });
      render();
    });
    star.addEventListener("click", function () { toggleFavorite(select.value); });
    box.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && !pop.hidden) { e.preventDefault(); close(true); input.focus(); }
    });
    box.addEventListener("focusout", function (e) {
      if (!box.contains(e.relatedTarget)) close(true);
    });
    // A script, "Use these settings" or the browser's form restore may set the select itself.
    select.addEventListener("change", showCurrent);
    showCurrent();
  }

  function enhanceAll(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("select[data-picker]").forEach(enhance);
  }
  document.addEventListener("DOMContentLoaded", function () {
    enhanceAll(document);
    document.body.addEventListener("htmx:load", function (e) { enhanceAll(e.detail.elt); });
  });
})();
