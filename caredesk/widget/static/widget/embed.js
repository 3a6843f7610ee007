/* caredesk support widget. Embed with one line:
 *   <script src="https://desk.example.org/widget.js" data-caredesk async></script>
 * Optional: data-color="#1f5fbf" data-text="Help" data-position="bottom-left"
 *           data-user-token="<signed token>"   (or CaredeskWidget.identify(token))
 * The launcher lives in a shadow root: host styles cannot reach it, and its own styles
 * (a constructed stylesheet, no inline style) cannot leak out. It is an open root, for
 * tests and assistive tools; the form itself is a caredesk page in a cross-origin iframe,
 * which no host script can read. */
(function () {
  "use strict";
  var defaults = {}/*caredesk-config*/;
  var pre = window.CaredeskWidget || {};
  if (pre.version) return; // included twice
  var script = document.currentScript || document.querySelector("script[data-caredesk]");
  if (!script) return;
  var desk = new URL(script.src, location.href).origin;
  var data = script.dataset;

  function pick(name, ok, fallback) {
    var value = data[name];
    if (value == null || value === "") return fallback;
    if (ok(value)) return value;
    console.warn("caredesk widget: ignoring data-" + name + "=" + JSON.stringify(value));
    return fallback;
  }
  function isColor(v) {
    return /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(v);
  }
  var color = pick("color", isColor, defaults.color || "#1f5fbf");
  var text = pick("text", function (v) { return v.trim() && v.length <= 40; }, defaults.text || "Contact support");
  var left = pick("position", function (v) { return /^bottom-(left|right)$/.test(v); }, defaults.position) === "bottom-left";
  var token = data.userToken || pre.userToken || "";
  var formUrl = desk + (defaults.formPath || "/widget/form/");

  // Text on the accent colour: white or black, whichever contrasts more (WCAG formula).
  var hex = color.length === 4 ? color.replace(/[0-9a-f]/gi, "$&$&") : color;
  var lum = [1, 3, 5].reduce(function (sum, at, i) {
    var c = parseInt(hex.substr(at, 2), 16) / 255;
    c = c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    return sum + c * [0.2126, 0.7152, 0.0722][i];
  }, 0);
  var ink = 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 ? "#fff" : "#000";
  var side = left ? "left" : "right";

  var css =
    ":host{all:initial!important}" +
    ".launcher{position:fixed;z-index:2147483000;bottom:20px;" + side + ":20px;" +
    "font:600 15px/1.2 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;padding:12px 18px;" +
    "border:2px solid transparent;border-radius:24px;background:" + hex + ";color:" + ink + ";" +
    "box-shadow:0 2px 10px rgba(0,0,0,.3);cursor:pointer}" +
    ".launcher:focus-visible,.close:focus-visible{outline:3px solid #000;outline-offset:2px;" +
    "box-shadow:0 0 0 6px #fff}" +
    "dialog{box-sizing:border-box;padding:0;border:0;border-radius:10px;background:#fff;" +
    "width:min(440px,calc(100vw - 24px));height:min(720px,calc(100vh - 24px));max-width:none;" +
    "max-height:none;margin:auto " + (left ? "auto 12px 12px" : "12px 12px auto") + ";" +
    "box-shadow:0 8px 30px rgba(0,0,0,.35);overflow:hidden}" +
    "dialog[open]{display:flex;flex-direction:column}" +
    "dialog::backdrop{background:rgba(0,0,0,.35)}" +
    ".bar{display:flex;justify-content:flex-end;padding:4px;background:" + hex + "}" +
    ".close{font:600 14px/1 system-ui,sans-serif;padding:8px 12px;border:2px solid transparent;" +
    "border-radius:4px;background:transparent;color:" + ink + ";cursor:pointer}" +
    "iframe{flex:1;width:100%;border:0;background:#fff}" +
    "@media (max-width:480px){dialog{width:100vw;height:100vh;margin:0;border-radius:0}}";

  var host = document.createElement("caredesk-widget");
  var root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets && window.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } else {
    var style = document.createElement("style");
    style.textContent = css;
    root.appendChild(style);
  }

  function el(tag, attrs, content) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (key) {
      node.setAttribute(key, attrs[key]);
    });
    if (content) node.textContent = content;
    return node;
  }
  var button = el("button", {
    type: "button",
    class: "launcher",
    "aria-haspopup": "dialog",
    "aria-expanded": "false",
    "aria-controls": "caredesk-dialog",
  }, text);
  var dialog = el("dialog", { id: "caredesk-dialog", "aria-label": text });
  var bar = el("div", { class: "bar" });
  var close = el("button", { type: "button", class: "close", "aria-label": "Close support form" }, "Close ✕");
  bar.appendChild(close);
  dialog.appendChild(bar);
  root.append(button, dialog);

  var frame = null;
  var loaded = false;
  var stale = false; // signed in as someone else while the form was open

  function opened() {
    // Into the form: the frame first, then the frame moves to its first field.
    frame.focus();
    frame.contentWindow.postMessage({ type: "caredesk:open", page: location.href }, desk);
  }
  function makeFrame() {
    var context = new URLSearchParams({ origin: location.origin, page: location.href, color: hex });
    if (token) context.set("token", token);
    frame = el("iframe", {
      title: "Support request form",
      src: formUrl + "#" + context.toString(),
    });
    loaded = false;
    frame.addEventListener("load", function () {
      // The form, or the page after sending it: either way, focus goes in.
      loaded = true;
      if (dialog.open) opened();
    });
    dialog.appendChild(frame);
  }
  function discard() {
    if (frame) frame.remove();
    frame = null;
  }

  function open() {
    if (dialog.open) return;
    if (!frame) makeFrame();
    dialog.showModal(); // the rest of the page is inert: focus stays in the dialog
    button.setAttribute("aria-expanded", "true");
    if (loaded) opened();
  }
  function shut() {
    if (dialog.open) dialog.close();
  }
  dialog.addEventListener("close", function () {
    if (stale) discard();
    stale = false;
    button.setAttribute("aria-expanded", "false");
    button.focus();
  });
  button.addEventListener("click", open);
  close.addEventListener("click", shut);

  window.addEventListener("message", function (event) {
    if (event.origin !== desk || !frame || event.source !== frame.contentWindow) return;
    var message = event.data || {};
    if (message.type !== "caredesk:close") return;
    if (message.done) discard(); // sent: the next opening starts a fresh form
    shut();
  });

  window.CaredeskWidget = {
    version: 1,
    open: open,
    close: shut,
    identify: function (newToken) {
      // Sign-in or sign-out on the host page: the next opening asks again.
      token = newToken || "";
      if (!token) {
        // Signed out: nothing more may be sent in that person's name, even from a form
        // left open on a shared computer. The form goes now.
        stale = false;
        shut();
        discard();
      } else if (dialog.open) {
        stale = true; // signed in: never swap the form under someone's typing
      } else {
        discard();
      }
    },
  };

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
