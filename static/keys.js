// Keyboard shortcuts of the whole site: "/" goes to the prompt, Ctrl/Cmd+Enter generates from
// anywhere in the composer, "?" lists every shortcut, the lightbox's and the
// image page's too (those live in app.js, on data-shortcut).
(function () {
  "use strict";
  var SHORTCUTS = [
    ["Composer", [
      ["/", "Go to the prompt"],
      ["Ctrl + Enter (⌘ + Enter on a Mac)", "Generate"],
      ["↑ ↓, Enter, Esc", "In the model list: move, choose, close"],
    ]],
    ["Lightbox and image page", [
      ["← →", "Newer and older image"],
      ["F", "Favorite"],
      ["D", "Download"],
      ["Esc", "Close, or back to the gallery"],
    ]],
    ["Anywhere", [["?", "This list"]]],
  ];

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function composer() {
    return document.getElementById("generate-form");
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  var dialog = null;
  function shortcutsDialog() {
    if (dialog) return dialog;
    dialog = el("dialog", {class: "shortcuts", "aria-labelledby": "shortcuts-title"});
    dialog.appendChild(el("h2", {id: "shortcuts-title"}, "Keyboard shortcuts"));
    SHORTCUTS.forEach(function (section) {
      dialog.appendChild(el("h3", {}, section[0]));
      var list = el("dl");
      section[1].forEach(function (pair) {
        var keys = el("dt");
        keys.appendChild(el("kbd", {}, pair[0]));
        list.append(keys, el("dd", {}, pair[1]));
      });
      dialog.appendChild(list);
    });
    var close = el("button", {type: "button", class: "primary"}, "Close");
    close.addEventListener("click", function () { dialog.close(); });
    dialog.appendChild(close);
    document.body.appendChild(dialog);
    return dialog;
  }

  // Say the keys where they act, to screen readers (aria-keyshortcuts) and on hover.
  function announce() {
    var form = composer();
    if (!form) return;
    var prompt = form.querySelector('[name="prompt"]');
    var button = document.getElementById("generate-button");
    if (prompt) prompt.setAttribute("aria-keyshortcuts", "/");
    if (button) {
      button.setAttribute("aria-keyshortcuts", "Control+Enter Meta+Enter");
      button.title = "Generate (Ctrl+Enter)";
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    announce();
    document.body.addEventListener("htmx:load", announce);
  });

  document.addEventListener("keydown", function (event) {
    var form = composer();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form && form.contains(event.target)) {
      event.preventDefault();
      // As a press of the button: htmx sends it, and the browser's own checks run first. A
      // disabled button means a generation is being sent already.
      var button = document.getElementById("generate-button");
      if (button && !button.disabled) form.requestSubmit(button);
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (event.key === "/" && form) {
      event.preventDefault();
      form.querySelector('[name="prompt"]').focus();
    } else if (event.key === "?") {
      event.preventDefault();
      shortcutsDialog().showModal();
    }
  });
})();
