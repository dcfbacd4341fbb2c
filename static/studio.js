// The studio's own behaviours: the theme switch, the mask editor, and dropping or pasting a
// picture onto the composer. No inline scripts anywhere (CSP: script-src 'self'); every one of
// these enhances a form that works without JavaScript.

// Theme: the form posts the choice (htmx, or a plain POST without JavaScript); the page
// changes at once rather than after a reload.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-theme-choice]");
  if (!button) return;
  var theme = button.getAttribute("data-theme-choice");
  var root = document.documentElement;
  if (theme) root.setAttribute("data-theme", theme); else root.removeAttribute("data-theme");
  var scheme = document.querySelector('meta[name="color-scheme"]');
  if (scheme) scheme.setAttribute("content", theme || "light dark");
  document.querySelectorAll("[data-theme-choice]").forEach(function (other) {
    other.setAttribute("aria-pressed", other === button ? "true" : "false");
  });
});

// Drag and drop, or paste, onto the composer: the picture goes into the model's first picture
// input (the one a mask, if any, is drawn over).
(function () {
  function composer(target) {
    return target && target.closest ? target.closest("#generate-form") : null;
  }
  function pictures(list) {
    return Array.prototype.filter.call(list || [], function (file) {
      return /^image\/(png|jpeg|webp)$/.test(file.type);
    });
  }
  function addPictures(form, files) {
    var input = form.querySelector("input[type=file][data-source-image]");
    if (!input) {
      say(form, "This model does not start from a picture; choose an edit model to use one.");
      return;
    }
    var chosen = new DataTransfer();
    if (input.multiple) Array.prototype.forEach.call(input.files, function (f) { chosen.items.add(f); });
    (input.multiple ? files : files.slice(0, 1)).forEach(function (f) { chosen.items.add(f); });
    input.files = chosen.files;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    say(form, files.length === 1 ? "Added " + (files[0].name || "the picture") + "." : "Added " + files.length + " pictures.");
  }
  function say(form, text) {
    var status = form.querySelector("[data-drop-status]");
    if (!status) {
      status = document.createElement("p");
      status.className = "help drop-status";
      status.setAttribute("role", "status");
      status.setAttribute("data-drop-status", "");
      form.insertBefore(status, form.firstChild.nextSibling);
    }
    status.textContent = text;
  }
  document.addEventListener("dragover", function (event) {
    var form = composer(event.target);
    if (!form || !event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
    event.preventDefault();
    form.classList.add("dropping");
  });
  document.addEventListener("dragleave", function (event) {
    var form = composer(event.target);
    if (form && !form.contains(event.relatedTarget)) form.classList.remove("dropping");
  });
  document.addEventListener("drop", function (event) {
    var form = composer(event.target);
    if (!form) return;
    form.classList.remove("dropping");
    var files = pictures(event.dataTransfer && event.dataTransfer.files);
    if (!files.length) return;
    event.preventDefault();
    addPictures(form, files);
  });
  document.addEventListener("paste", function (event) {
    var form = composer(event.target);
    var files = form ? pictures(event.clipboardData && event.clipboardData.files) : [];
    if (!files.length) return;
    event.preventDefault();
    addPictures(form, files);
  });
})();

// The mask editor. A mask input carries, from the catalog, the picture input it goes with
// (data-mask-of) and the provider's convention as colours (data-mask-edit / data-mask-keep,
// "r,g,b,a"). Choosing that picture opens a canvas over it; every change writes a PNG of the
// picture's exact size into the mask input, so the form sends it like any upload.
(function () {
  var HISTORY = 30;

  function rgba(text) {
    return (text || "0,0,0,255").split(",").map(function (n) { return parseInt(n, 10); });
  }

  function button(label, action, extra) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.setAttribute("data-mask-action", action);
    if (extra) Object.keys(extra).forEach(function (k) { b.setAttribute(k, extra[k]); });
    return b;
  }

  function build(mask) {
    var editor = document.createElement("section");
    editor.className = "mask-editor";
    editor.setAttribute("aria-label", "Mask editor");
    var help = document.createElement("p");
    help.className = "help";
    help.textContent = "Paint over the part of the picture to change; the rest stays as it is.";
    var tools = document.createElement("div");
    tools.className = "mask-tools";
    tools.setAttribute("role", "toolbar");
    tools.setAttribute("aria-label", "Mask tools");
    var size = document.createElement("input");
    size.type = "range"; size.min = "2"; size.max = "200"; size.value = "40";
    size.id = mask.id + "_brush";
    var sizeLabel = document.createElement("label");
    sizeLabel.htmlFor = size.id;
    sizeLabel.textContent = "Brush size";
    var view = document.createElement("input");
    view.type = "checkbox"; view.id = mask.id + "_view";
    var viewLabel = document.createElement("label");
    viewLabel.htmlFor = view.id;
    viewLabel.textContent = "Show the mask alone";
    var viewWrap = document.createElement("span");
    viewWrap.className = "check";
    viewWrap.append(view, viewLabel);
    tools.append(
      button("Brush", "brush", { "aria-pressed": "true" }),
      button("Eraser", "eraser", { "aria-pressed": "false" }),
      sizeLabel, size,
      button("Undo", "undo"), button("Redo", "redo"),
      button("Invert", "invert"), button("Clear", "clear"),
      viewWrap
    );
    var stage = document.createElement("div");
    stage.className = "mask-stage";
    var picture = document.createElement("img");
    picture.alt = "The picture the mask is drawn over";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "Mask: the painted area will be changed");
    stage.append(picture, canvas);
    var status = document.createElement("p");
    status.className = "help mask-status";
    status.setAttribute("role", "status");
    editor.append(help, tools, stage, status);
    return { editor: editor, size: size, view: view, stage: stage, picture: picture, canvas: canvas, status: status, tools: tools };
  }

  // picture: a File (an upload, dropped or pasted) or the address of a gallery original.
  function open(mask, picture) {
    var ui = build(mask);
    var field = mask.closest(".field") || mask;
    field.after(ui.editor);
    mask.editor = ui.editor;
    var ctx, erasing = false, last = null, undo = [], redo = [];
    var edit = rgba(mask.getAttribute("data-mask-edit")), keep = rgba(mask.getAttribute("data-mask-keep"));
    if (typeof picture === "string") {
      ui.picture.src = picture;
    } else {
      // A data: URL, as the CSP allows (img-src 'self' data:), not a blob: one.
      var reader = new FileReader();
      reader.onload = function () { ui.picture.src = reader.result; };
      reader.readAsDataURL(picture);
    }
    ui.picture.onload = function () {
      ui.canvas.width = ui.picture.naturalWidth;
      ui.canvas.height = ui.picture.naturalHeight;
      ctx = ui.canvas.getContext("2d", { willReadFrequently: true });
      ui.status.textContent = "Paint the area to change (" + ui.canvas.width + " × " + ui.canvas.height + " px).";
    };
    ui.picture.onerror = function () {
      ui.status.textContent = "This picture cannot be shown here, so no mask can be painted over it.";
    };

    function scale() {
      return ui.canvas.width / ui.canvas.getBoundingClientRect().width;
    }
    function point(event) {
      var box = ui.canvas.getBoundingClientRect(), s = scale();
      return { x: (event.clientX - box.left) * s, y: (event.clientY - box.top) * s };
    }
    function remember() {
      undo.push(ctx.getImageData(0, 0, ui.canvas.width, ui.canvas.height));
      if (undo.length > HISTORY) undo.shift();
      redo = [];
    }
    function stroke(from, to) {
      ctx.globalCompositeOperation = erasing ? "destination-out" : "source-over";
      ctx.strokeStyle = ctx.fillStyle = "#ff2a5a";
      ctx.lineWidth = parseInt(ui.size.value, 10) * scale();
      ctx.lineCap = ctx.lineJoin = "round";
      ctx.beginPath();
      ctx.moveTo(from.x, from.y);
      ctx.lineTo(to.x + 0.01, to.y);
      ctx.stroke();
    }
    // The painted area, as the provider reads masks: the edit colour where painted, the keep
    // colour elsewhere; a pixel counts as painted when it is more than half covered.
    function write() {
      var w = ui.canvas.width, h = ui.canvas.height;
      var painted = ctx.getImageData(0, 0, w, h).data;
      var out = document.createElement("canvas");
      out.width = w; out.height = h;
      var octx = out.getContext("2d");
      var image = octx.createImageData(w, h), data = image.data, count = 0;
      for (var i = 0; i < painted.length; i += 4) {
        var colour = painted[i + 3] >= 128 ? edit : keep;
        if (colour === edit) count++;
        data[i] = colour[0]; data[i + 1] = colour[1]; data[i + 2] = colour[2]; data[i + 3] = colour[3];
      }
      if (!count) {
        mask.value = "";
        ui.status.textContent = "Nothing painted: the model will get no mask.";
        return;
      }
      octx.putImageData(image, 0, 0);
      out.toBlob(function (blob) {
        var chosen = new DataTransfer();
        chosen.items.add(new File([blob], "mask.png", { type: "image/png" }));
        mask.files = chosen.files;
        var share = Math.round((100 * count) / (w * h));
        ui.status.textContent = "Mask ready: " + w + " × " + h + " px, " + share + "% of the picture will change.";
      }, "image/png");
    }
    function restore(from, to) {
      if (!from.length) return;
      to.push(ctx.getImageData(0, 0, ui.canvas.width, ui.canvas.height));
      ctx.putImageData(from.pop(), 0, 0);
      write();
    }

    ui.canvas.addEventListener("pointerdown", function (event) {
      if (!ctx) return;
      event.preventDefault();
      ui.canvas.setPointerCapture(event.pointerId);
      remember();
      last = point(event);
      stroke(last, last);
    });
    ui.canvas.addEventListener("pointermove", function (event) {
      if (!last) return;
      var next = point(event);
      stroke(last, next);
      last = next;
    });
    function end() {
      if (!last) return;
      last = null;
      write();
    }
    ui.canvas.addEventListener("pointerup", end);
    ui.canvas.addEventListener("pointercancel", end);
    ui.view.addEventListener("change", function () {
      ui.stage.classList.toggle("mask-only", ui.view.checked);
    });
    ui.tools.addEventListener("click", function (event) {
      var b = event.target.closest("[data-mask-action]");
      if (!b || !ctx) return;
      var action = b.getAttribute("data-mask-action");
      var w = ui.canvas.width, h = ui.canvas.height;
      if (action === "brush" || action === "eraser") {
        erasing = action === "eraser";
        ui.tools.querySelectorAll('[data-mask-action="brush"], [data-mask-action="eraser"]').forEach(function (t) {
          t.setAttribute("aria-pressed", t === b ? "true" : "false");
        });
      } else if (action === "undo") {
        restore(undo, redo);
      } else if (action === "redo") {
        restore(redo, undo);
      } else if (action === "clear") {
        remember();
        ctx.clearRect(0, 0, w, h);
        write();
      } else if (action === "invert") {
        remember();
        var image = ctx.getImageData(0, 0, w, h), d = image.data;
        for (var i = 0; i < d.length; i += 4) {
          d[i] = 255; d[i + 1] = 42; d[i + 2] = 90; d[i + 3] = 255 - d[i + 3];
        }
        ctx.putImageData(image, 0, 0);
        write();
      }
    });
  }

  function close(mask) {
    if (!mask.editor) return;
    mask.editor.remove();
    mask.editor = null;
    mask.value = "";
  }

  // The picture a mask goes with: its input's first upload, else the first picture ticked
  // among those from the gallery (the order the server sends them in).
  function pictureFor(mask) {
    var form = mask.form, id = mask.getAttribute("data-mask-of");
    var upload = form.querySelector("#" + id);
    if (upload && upload.files && upload.files[0]) return upload.files[0];
    var picked = form.querySelector('input[type=checkbox][name="' + id.replace(/^id_/, "") + '_pick"]:checked');
    var thumb = picked && picked.parentNode.querySelector("img[data-original]");
    return thumb ? thumb.getAttribute("data-original") : null;
  }

  document.addEventListener("change", function (event) {
    var input = event.target, form = input.form;
    if (!form || !input.matches || !input.matches("input[type=file][data-source-image], .pick-option input")) return;
    form.querySelectorAll("input[type=file][data-mask-of]").forEach(function (mask) {
      var id = mask.getAttribute("data-mask-of");
      if (input.id !== id && input.name !== id.replace(/^id_/, "") + "_pick") return;
      var picture = pictureFor(mask);
      close(mask);
      if (picture) open(mask, picture);
    });
  });
})();
