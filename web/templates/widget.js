/* Support Bridge: a chat button for any website.
 *
 *   <script src="https://bridge.example.com/widget.js" data-department="Sales"
 *           data-lang="vi" data-invite-after="30" async></script>
 *
 * The button says whether someone is online; the panel is the bridge's own /chat page
 * in a frame (Web Chat and the token live there, never in the host page), so the
 * conversation survives the host's page navigations. Everything sits in a shadow root:
 * the host's styles cannot break it and it cannot break the host's.
 */
(function () {
  "use strict";

  var CONFIG = {{ config|tojson }};
  var script = document.currentScript;
  if (!script || document.getElementById("support-bridge-widget")) {
    return;
  }
  var source = new URL(script.src, window.location.href);
  var base = source.origin + source.pathname.replace(/widget\.js$/, "");
  var data = script.dataset;
  var STATE = "supportBridge.widget";

  function language() {
    var wanted = [data.lang].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < wanted.length; i += 1) {
      var tag = String(wanted[i] || "").split("-")[0].toLowerCase();
      if (CONFIG.texts[tag]) {
        return tag;
      }
    }
    return CONFIG.defaultLang;
  }

  var lang = language();
  var texts = CONFIG.texts[lang];
  var department = data.department || "";
  var inviteAfter = parseFloat(data.inviteAfter);

  function load() {
    try {
      return JSON.parse(window.sessionStorage.getItem(STATE) || "{}");
    } catch (error) {
      return {};
    }
  }

  var state = load();

  function save() {
    try {
      window.sessionStorage.setItem(STATE, JSON.stringify(state));
    } catch (error) {
      /* storage blocked: the widget still works within this page */
    }
  }

  var host = document.createElement("div");
  host.id = "support-bridge-widget";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; }",
    "[hidden] { display: none !important; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; display: flex;",
    "  align-items: center; gap: 8px; padding: 12px 18px; border: 0; border-radius: 28px;",
    "  color: #fff; background: " + CONFIG.color + "; font-size: 15px; font-weight: 600;",
    "  box-shadow: 0 4px 16px rgba(0,0,0,.25); cursor: pointer; }",
    ".launcher:focus-visible, button:focus-visible { outline: 3px solid #1f2328; outline-offset: 2px; }",
    ".dot { width: 10px; height: 10px; border-radius: 50%; background: #b8c0cc; flex: none; }",
    ".online .dot { background: #3ddc84; }",
    ".bubble { position: fixed; right: 20px; bottom: 84px; z-index: 2147483000; max-width: 300px;",
    "  padding: 14px 16px; border-radius: 14px; background: #fff; color: #1f2328;",
    "  box-shadow: 0 6px 24px rgba(0,0,0,.2); font-size: 15px; line-height: 1.4; }",
    ".bubble p { margin: 0 24px 10px 0; }",
    ".bubble .reply { padding: 8px 14px; border: 0; border-radius: 8px; color: #fff;",
    "  background: " + CONFIG.color + "; font-size: 14px; font-weight: 600; cursor: pointer; }",
    ".x { position: absolute; top: 6px; right: 6px; width: 32px; height: 32px; border: 0;",
    "  border-radius: 50%; background: transparent; color: inherit; font-size: 20px; cursor: pointer; }",
    ".panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483001; width: 380px;",
    "  height: min(600px, calc(100vh - 110px)); display: flex; flex-direction: column;",
    "  border-radius: 14px; overflow: hidden; background: #fff; box-shadow: 0 8px 32px rgba(0,0,0,.3); }",
    ".panel header { position: relative; flex: none; padding: 14px 48px 14px 16px; color: #fff;",
    "  background: " + CONFIG.color + "; font-size: 16px; font-weight: 600; }",
    ".panel iframe { flex: 1; width: 100%; border: 0; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: auto; height: auto; border-radius: 0; }",
    "  .bubble { left: 16px; right: 16px; max-width: none; }",
    "}"
  ].join("\n");
  root.appendChild(style);

  function element(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes).forEach(function (name) {
      made.setAttribute(name, attributes[name]);
    });
    if (text) {
      made.textContent = text;
    }
    return made;
  }

  var bubble = element("div", { class: "bubble", role: "status", hidden: "" });
  var greeting = element("p", {}, texts.greeting);
  var reply = element("button", { class: "reply", type: "button" }, texts.invite_reply);
  var dismiss = element("button", { class: "x", type: "button", "aria-label": texts.invite_dismiss }, "×");
  bubble.append(greeting, reply, dismiss);

  var panel = element("div", { class: "panel", id: "support-bridge-panel", role: "dialog", "aria-label": texts.title, hidden: "" });
  var header = element("header", {}, texts.title);
  var close = element("button", { class: "x", type: "button", "aria-label": texts.close_chat }, "×");
  header.appendChild(close);
  panel.appendChild(header);

  var launcher = element("button", {
    class: "launcher",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "support-bridge-panel"
  });
  var dot = element("span", { class: "dot", "aria-hidden": "true" });
  var label = element("span", { class: "label" }, texts.button_offline);
  launcher.append(dot, label);
  root.append(bubble, panel, launcher);

  function showAvailability(online) {
    label.textContent = online ? texts.button_online : texts.button_offline;
    launcher.classList.toggle("online", online);
    launcher.setAttribute("aria-label", label.textContent + " – " + texts.open_chat);
  }

  function chatUrl() {
    var query = "chat?embed=1&lang=" + encodeURIComponent(lang);
    if (department) {
      query += "&department=" + encodeURIComponent(department);
    }
    if (state.invited && state.answered) {
      query += "&invited=1";
    }
    return base + query;
  }

  function open(focus) {
    bubble.hidden = true;
    if (!panel.querySelector("iframe")) {
      panel.appendChild(element("iframe", { title: texts.title, src: chatUrl() }));
    }
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    state.open = true;
    save();
    if (focus) {
      panel.querySelector("iframe").focus();
    }
  }

  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    save();
    launcher.focus();
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) {
      open(true);
    } else {
      shut();
    }
  });
  close.addEventListener("click", shut);
  reply.addEventListener("click", function () {
    state.answered = true;
    open(true);
  });
  dismiss.addEventListener("click", function () {
    bubble.hidden = true;
  });
  root.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !panel.hidden) {
      shut();
    }
  });
  // Escape pressed inside the chat (the iframe has the focus while the visitor types).
  window.addEventListener("message", function (event) {
    var frame = panel.querySelector("iframe");
    var fromChat = frame && event.source === frame.contentWindow && event.origin === source.origin;
    if (fromChat && event.data && event.data.supportBridge === "close" && !panel.hidden) {
      shut();
    }
  });

  showAvailability(false);
  fetch(base + "api/availability?department=" + encodeURIComponent(department))
    .then(function (response) {
      return response.ok ? response.json() : { online: false };
    })
    .then(function (answer) {
      showAvailability(!!answer.online);
    })
    .catch(function () {
      showAvailability(false);
    });

  function mount() {
    document.body.appendChild(host);
    if (state.open) {
      open(false);
    } else if (inviteAfter >= 0 && !state.invited) {
      window.setTimeout(function () {
        if (panel.hidden && !state.invited) {
          state.invited = true;
          save();
          bubble.hidden = false;
        }
      }, inviteAfter * 1000);
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
