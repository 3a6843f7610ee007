// The support form inside the widget's iframe. No inline scripts: the CSP forbids them.
// widget.js (on the host page) passes its context in this page's URL fragment:
//   #origin=<host page origin>&page=<host page URL>&token=<signed user token>&color=<#hex>
// The fragment never reaches a server or a Referer header; it is removed once read.
(function () {
  "use strict";

  var hash = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);

  function byId(id) {
    return document.getElementById(id);
  }
  function setValue(id, value) {
    var input = byId(id);
    if (input && value && !input.value) input.value = value;
  }
  function isColor(value) {
    return /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(value || "");
  }
  function isHttpUrl(value) {
    return /^https?:\/\//i.test(value || "") && value.length <= 2000;
  }

  // The page that framed us. The browser's own answer (Chromium, Safari) beats a claim.
  var ancestors = location.ancestorOrigins;
  var parentOrigin =
    (ancestors && ancestors.length && ancestors[0]) ||
    document.body.dataset.parentOrigin ||
    hash.get("origin") ||
    "";
  var framed = window.parent !== window && /^https?:\/\/[^/]+$/.test(parentOrigin);

  function tellParent(message) {
    if (framed) window.parent.postMessage(message, parentOrigin); // never "*"
  }

  // Colours: the launcher's accent, for the buttons. Text colour by contrast.
  var accent = document.body.dataset.accent || hash.get("color");
  if (isColor(accent)) {
    var hex = accent.length === 4 ? accent.replace(/[0-9a-f]/gi, "$&$&") : accent;
    var lum = [1, 3, 5].reduce(function (sum, at, i) {
      var c = parseInt(hex.substr(at, 2), 16) / 255;
      c = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
      return sum + c * [0.2126, 0.7152, 0.0722][i];
    }, 0);
    var root = document.documentElement.style;
    root.setProperty("--accent", hex);
    root.setProperty("--accent-fg", 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 ? "#fff" : "#000");
  }

  // Escape closes the dialog, even while focus is in here (keys do not leave a frame).
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") tellParent({ type: "caredesk:close" });
  });

  var done = byId("cd-done");
  if (done) {
    // The success page.
    if (framed) done.hidden = false;
    done.addEventListener("click", function () {
      tellParent({ type: "caredesk:close", done: true });
    });
  }

  var identityKnown = Promise.resolve(); // a pending token check delays the first focus
  function focusStart() {
    var target = byId("cd-errors") || byId("cd-sent") || byId("cd-refused") || firstField();
    if (target) target.focus();
  }
  function firstField() {
    var fields = document.querySelectorAll("#cd-form input:not([type=hidden]), #cd-form textarea");
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].closest("[hidden], .hp")) return fields[i];
    }
    return null;
  }

  // widget.js says "opened" each time the dialog opens: the host page may have changed.
  window.addEventListener("message", function (event) {
    if (event.source !== window.parent || event.origin !== parentOrigin) return;
    var data = event.data || {};
    if (data.type !== "caredesk:open") return;
    var pageUrl = byId("cd-page-url");
    if (pageUrl && isHttpUrl(data.page)) pageUrl.value = data.page;
    identityKnown.then(focusStart);
  });
  if (!framed) focusStart();

  var form = byId("cd-form");
  if (!form) return;

  // The error summary's links put focus on the field itself, not just scroll to it.
  var summary = byId("cd-errors");
  if (summary) {
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var field = link && byId(link.getAttribute("href").slice(1));
      if (!field) return;
      event.preventDefault();
      field.focus();
    });
  }

  setValue("cd-page-url", isHttpUrl(hash.get("page")) ? hash.get("page") : "");
  setValue("cd-host-origin", parentOrigin);
  setValue("cd-accent", isColor(accent) ? accent : "");

  // A signed user token: ask caredesk whether it is good, and if so skip the email.
  var token = hash.get("token");
  if (token && !byId("cd-user-token").value) {
    byId("cd-user-token").value = token;
    var body = new FormData();
    body.append("user_token", token);
    identityKnown = fetch(form.dataset.identityUrl, {
      method: "POST",
      body: body,
      credentials: "omit",
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (answer) {
        if (answer.ok) {
          byId("cd-identity-name").textContent = answer.display;
          byId("cd-identity").hidden = false;
          var contact = byId("cd-contact");
          var wasHere = contact.contains(document.activeElement);
          contact.hidden = true;
          contact.disabled = true;
          if (wasHere) firstField().focus(); // never leave focus on a hidden field
        } else {
          byId("cd-identity-failed").hidden = false;
        }
      })
      .catch(function () {
        byId("cd-identity-failed").hidden = false;
      });
  }

  // ---------------------------------------------------------------- screenshots
  var input = byId("id_screenshots");
  var list = byId("cd-shots");
  var problem = byId("cd-shots-error");
  var live = byId("cd-live");
  var maxBytes = Number(input.dataset.maxBytes);
  var maxFiles = Number(input.dataset.maxFiles);
  var files = [];
  var pasted = 0;
  var kinds = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp" };

  function announce(text) {
    // Clear first so that the same words twice are announced twice.
    live.textContent = "";
    window.setTimeout(function () {
      live.textContent = text;
    }, 50);
  }
  function showProblem(text) {
    problem.textContent = text;
    problem.hidden = !text;
    var ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
      return id && id !== problem.id;
    });
    if (text) ids.push(problem.id);
    input.setAttribute("aria-describedby", ids.join(" "));
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
  function count() {
    return files.length === 1 ? "1 screenshot attached." : files.length + " screenshots attached.";
  }

  function add(candidates) {
    var added = [];
    var refused = [];
    candidates.forEach(function (file) {
      if (!kinds[file.type]) refused.push("“" + file.name + "” is not a PNG, JPEG, GIF or WebP image.");
      else if (file.size > maxBytes) refused.push("“" + file.name + "” is too large.");
      else if (files.length >= maxFiles) refused.push("At most " + maxFiles + " screenshots.");
      else {
        files.push(file);
        added.push(file.name);
      }
    });
    sync();
    showProblem(refused.join(" "));
    var words = added.length ? "Added " + added.join(", ") + ". " + count() : "";
    if (words || refused.length) announce((words + " " + refused.join(" ")).trim());
  }

  function sync() {
    var transfer = new DataTransfer();
    files.forEach(function (file) {
      transfer.items.add(file);
    });
    input.files = transfer.files;
    list.querySelectorAll("img").forEach(function (img) {
      URL.revokeObjectURL(img.src);
    });
    list.textContent = "";
    files.forEach(function (file, index) {
      var item = document.createElement("li");
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = "Screenshot " + (index + 1) + ": " + file.name;
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = file.name;
      name.setAttribute("aria-hidden", "true");
      var remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", "Remove " + file.name);
      remove.addEventListener("click", function () {
        files.splice(index, 1);
        sync();
        showProblem("");
        announce("Removed " + file.name + ". " + count());
        var next = list.querySelectorAll("button")[Math.min(index, files.length - 1)];
        (next || input).focus();
      });
      item.append(img, name, remove);
      list.append(item);
    });
    list.hidden = files.length === 0;
  }

  input.addEventListener("change", function () {
    // The picker replaces the input's files; keep the ones already pasted or chosen.
    var chosen = Array.prototype.slice.call(input.files);
    add(chosen);
  });

  document.addEventListener("paste", function (event) {
    var items = (event.clipboardData && event.clipboardData.items) || [];
    var images = [];
    // Text copied from an office program often comes with a picture of itself: in a text
    // field, the text is what the person meant.
    var typing = event.target.closest && event.target.closest("input, textarea");
    for (var t = 0; typing && t < items.length; t++) {
      if (items[t].kind === "string" && items[t].type === "text/plain") return;
    }
    for (var i = 0; i < items.length; i++) {
      if (items[i].kind !== "file" || items[i].type.indexOf("image/") !== 0) continue;
      var file = items[i].getAsFile();
      if (!file) continue;
      pasted += 1;
      var ext = kinds[file.type] || "png";
      images.push(new File([file], "pasted-screenshot-" + pasted + "." + ext, { type: file.type }));
    }
    if (!images.length) return; // text pastes as usual
    event.preventDefault();
    add(images);
  });

  form.addEventListener("submit", function () {
    var button = byId("cd-submit");
    // Not disabled at once: a disabled button is not submitted, and we want one click.
    window.setTimeout(function () {
      button.disabled = true;
      button.textContent = "Sending…";
    }, 0);
    form.setAttribute("aria-busy", "true");
  });
})();
