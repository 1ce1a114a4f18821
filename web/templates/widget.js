/* Support Bridge: a chat button for any website.
 *
 *   <script src="https://bridge.example.com/widget.js" data-department="Sales"
 *           data-lang="vi" data-invite-after="30" data-offset="64" data-sound="on" async></script>
 *
 * The button is round, says whether someone is online and becomes the panel's close
 * control; the panel is the bridge's own /chat page in a frame (Web Chat and the token
 * live there, never in the host page), so the conversation survives the host's page
 * navigations. While the panel is closed, an agent's reply shows an unread count on the
 * button, a preview of the line, "(1) New message" in the tab's title until read, an
 * announcement for screen readers and, if the site asks, a short sound. Everything sits
 * in a shadow root: the host's styles cannot break it and it cannot break the host's.
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
  var VISIT = "supportBridge.widget";  // this visit (sessionStorage): open, invited
  var KEPT = "supportBridge.kept";  // across visits (localStorage): a conversation, unread
  var DAY = 86400000;

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
  var offset = parseInt(data.offset, 10);
  offset = isFinite(offset) && offset >= 0 ? offset : CONFIG.offset;
  var sound = data.sound ? data.sound === "on" : CONFIG.sound;
  var online = false;

  function say(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values[name] !== undefined ? values[name] : all;
    });
  }

  function load(storage, key) {
    try {
      return JSON.parse(storage.getItem(key) || "{}") || {};
    } catch (error) {
      return {};
    }
  }

  function store(storage, key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* storage blocked: the widget still works within this page */
    }
  }

  var visit = load(window.sessionStorage, VISIT);
  var kept = load(window.localStorage, KEPT);
  if (kept.until && kept.until < Date.now()) {
    kept = {};
  }

  function save() {
    store(window.sessionStorage, VISIT, visit);
    store(window.localStorage, KEPT, kept);
  }

  var host = document.createElement("div");
  host.id = "support-bridge-widget";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  var low = 20 + offset;
  var high = 92 + offset;
  style.textContent = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; }",
    "[hidden] { display: none !important; }",
    ".hide { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }",
    ".launcher { position: fixed; right: 20px; bottom: " + low + "px; z-index: 2147483000;",
    "  display: grid; place-items: center; width: 60px; height: 60px; padding: 0; border: 0;",
    "  border-radius: 50%; color: #fff; background: " + CONFIG.color + ";",
    "  box-shadow: 0 4px 16px rgba(0,0,0,.25); cursor: pointer; }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".launcher .shut { display: none; }",
    ".launcher[aria-expanded='true'] .chat { display: none; }",
    ".launcher[aria-expanded='true'] .shut { display: block; }",
    ".launcher:focus-visible, button:focus-visible { outline: 3px solid #1f2328; outline-offset: 2px; }",
    ".dot { position: absolute; right: 3px; bottom: 3px; width: 14px; height: 14px; border-radius: 50%;",
    "  border: 2px solid #fff; background: #b8c0cc; }",
    ".online .dot { background: #1a7f37; }",
    ".badge { position: absolute; top: -4px; right: -4px; min-width: 22px; height: 22px; padding: 0 6px;",
    "  border-radius: 11px; border: 2px solid #fff; background: #c62828; color: #fff;",
    "  font-size: 12px; font-weight: 700; line-height: 18px; text-align: center; }",
    ".bubble, .preview { position: fixed; right: 20px; bottom: " + high + "px; z-index: 2147483000; max-width: 300px;",
    "  padding: 14px 16px; border-radius: 14px; background: #fff; color: #1f2328;",
    "  box-shadow: 0 6px 24px rgba(0,0,0,.2); font-size: 15px; line-height: 1.4; }",
    ".bubble p { margin: 0 24px 10px 0; }",
    ".bubble .reply { padding: 8px 14px; border: 0; border-radius: 8px; color: #fff;",
    "  background: " + CONFIG.color + "; font-size: 14px; font-weight: 600; cursor: pointer; }",
    ".preview { display: flex; gap: 10px; align-items: flex-start; padding-right: 40px; }",
    ".preview .open { all: unset; display: flex; gap: 10px; cursor: pointer; text-align: left; }",
    ".preview .open:focus-visible { outline: 3px solid #1f2328; outline-offset: 4px; border-radius: 6px; }",
    ".face { flex: none; display: grid; place-items: center; width: 36px; height: 36px; border-radius: 50%;",
    "  color: #fff; background: " + CONFIG.color + "; font-size: 13px; font-weight: 700; }",
    ".who { display: block; font-weight: 700; font-size: 14px; }",
    ".line { display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical; overflow: hidden;",
    "  font-size: 14px; }",
    ".x { position: absolute; top: 6px; right: 6px; width: 32px; height: 32px; border: 0;",
    "  border-radius: 50%; background: transparent; color: inherit; font-size: 20px; cursor: pointer; }",
    ".panel { position: fixed; right: 20px; bottom: " + high + "px; z-index: 2147483001; width: 380px;",
    "  height: min(620px, calc(100vh - " + (high + 24) + "px)); display: flex; flex-direction: column;",
    "  border-radius: 14px; overflow: hidden; background: #fff; box-shadow: 0 8px 32px rgba(0,0,0,.3); }",
    ".panel header { position: relative; flex: none; padding: 12px 48px 12px 16px; color: #fff;",
    "  background: " + CONFIG.color + "; }",
    ".panel h2 { margin: 0; font-size: 16px; font-weight: 600; }",
    ".panel .helping { margin: 2px 0 0; font-size: 13px; opacity: .92; }",
    ".panel iframe { flex: 1; width: 100%; border: 0; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: auto; height: auto; border-radius: 0; }",
    "  .bubble, .preview { left: 16px; right: 16px; max-width: none; }",
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

  function icon(kind, path) {
    var svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("class", kind);
    var shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
    shape.setAttribute("d", path);
    svg.appendChild(shape);
    return svg;
  }

  var bubble = element("div", { class: "bubble", role: "status", hidden: "" });
  var greeting = element("p", {}, texts.greeting);
  var reply = element("button", { class: "reply", type: "button" }, texts.invite_reply);
  var dismiss = element("button", { class: "x", type: "button", "aria-label": texts.invite_dismiss }, "×");
  bubble.append(greeting, reply, dismiss);

  var preview = element("div", { class: "preview", hidden: "" });
  var previewOpen = element("button", { class: "open", type: "button" });
  var face = element("span", { class: "face", "aria-hidden": "true" });
  var words = element("span", {});
  var who = element("span", { class: "who" });
  var line = element("span", { class: "line" });
  words.append(who, line);
  previewOpen.append(face, words);
  var previewClose = element("button", { class: "x", type: "button", "aria-label": texts.invite_dismiss }, "×");
  preview.append(previewOpen, previewClose);

  var panel = element("div", { class: "panel", id: "support-bridge-panel", role: "dialog", "aria-label": texts.title, hidden: "" });
  var header = element("header", {});
  var heading = element("h2", {}, texts.title);
  var helping = element("p", { class: "helping", hidden: "" });
  var close = element("button", { class: "x", type: "button", "aria-label": texts.close_chat }, "×");
  header.append(heading, helping, close);
  panel.appendChild(header);

  var launcher = element("button", {
    class: "launcher",
    type: "button",
    "aria-expanded": "false",
    "aria-controls": "support-bridge-panel"
  });
  var label = element("span", { class: "hide" }, texts.button_offline);
  var dot = element("span", { class: "dot", "aria-hidden": "true" });
  var badge = element("span", { class: "badge", "aria-hidden": "true", hidden: "" });
  launcher.append(
    icon("chat", "M12 3C6.5 3 2 6.8 2 11.5c0 2.4 1.2 4.6 3.1 6.1L4 21l4.1-1.9c1.2.4 2.5.6 3.9.6 5.5 0 10-3.8 10-8.5S17.5 3 12 3z"),
    icon("shut", "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z"),
    label,
    dot,
    badge
  );
  // Read by screen readers when a reply arrives while the panel is closed.
  var announce = element("p", { class: "hide", "aria-live": "polite" });
  root.append(bubble, preview, panel, launcher, announce);

  var originalTitle = null;

  function describe() {
    var count = kept.unread || 0;
    var parts = [panel.hidden ? texts.open_chat : texts.close_chat, label.textContent];
    if (count && panel.hidden) {
      parts.push(say(texts.unread_label, { count: count }));
    }
    launcher.setAttribute("aria-label", parts.join(" – "));
    badge.textContent = !count ? "" : count > 9 ? "9+" : String(count);
    badge.hidden = !count || !panel.hidden;
    if (count && panel.hidden) {
      if (originalTitle === null) {
        originalTitle = document.title;
      }
      document.title = say(texts.unread_title, { count: count }) + " – " + originalTitle;
    } else if (originalTitle !== null) {
      document.title = originalTitle;
      originalTitle = null;
    }
  }

  function showAvailability(available) {
    online = available;
    label.textContent = available ? texts.button_online : texts.button_offline;
    launcher.classList.toggle("online", available);
    describe();
  }

  function chatUrl() {
    var query = "chat?embed=1&lang=" + encodeURIComponent(lang);
    if (department) {
      query += "&department=" + encodeURIComponent(department);
    }
    if (visit.invited && visit.answered) {
      query += "&invited=1";
    }
    return base + query;
  }

  function frame() {
    var made = panel.querySelector("iframe");
    if (!made) {
      made = element("iframe", { title: texts.title, src: chatUrl() });
      panel.appendChild(made);
    }
    return made;
  }

  function open(focus) {
    bubble.hidden = true;
    preview.hidden = true;
    frame();
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    visit.open = true;
    kept.unread = 0;
    save();
    describe();
    if (focus) {
      frame().focus();
    }
  }

  function shut() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    visit.open = false;
    save();
    describe();
    launcher.focus();
  }

  function chime() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      var context = new Context();
      var tone = context.createOscillator();
      var volume = context.createGain();
      tone.frequency.value = 880;
      volume.gain.setValueAtTime(0.08, context.currentTime);
      volume.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.25);
      tone.connect(volume).connect(context.destination);
      tone.start();
      tone.stop(context.currentTime + 0.25);
    } catch (error) {
      /* no sound where the browser allows none */
    }
  }

  /* A line arrived in the chat: noticed when the panel is closed. */
  function arrived(message) {
    if (!panel.hidden) {
      return;
    }
    kept.unread = (kept.unread || 0) + 1;
    save();
    describe();
    bubble.hidden = true;
    face.textContent = String(message.initials || "").slice(0, 2);
    who.textContent = String(message.name || "");
    line.textContent = String(message.text || "");
    preview.hidden = false;
    announce.textContent = say(texts.announce, { name: message.name || "", text: message.text || "" });
    if (sound) {
      chime();
    }
  }

  launcher.addEventListener("click", function () {
    if (panel.hidden) {
      open(true);
    } else {
      shut();
    }
  });
  close.addEventListener("click", shut);
  previewOpen.addEventListener("click", function () {
    open(true);
  });
  previewClose.addEventListener("click", function () {
    preview.hidden = true;
  });
  reply.addEventListener("click", function () {
    visit.answered = true;
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
  // What the chat in the panel tells: Escape pressed there, a new line, who is helping.
  window.addEventListener("message", function (event) {
    var chat = panel.querySelector("iframe");
    var fromChat = chat && event.source === chat.contentWindow && event.origin === source.origin;
    var said = fromChat && event.data ? event.data : {};
    if (said.supportBridge === "close" && !panel.hidden) {
      shut();
    } else if (said.supportBridge === "message") {
      arrived(said);
    } else if (said.supportBridge === "agent") {
      // An empty name: nobody helps any more (the chat was closed, or a new one begun).
      var name = String(said.name || "");
      helping.textContent = name ? say(texts.helping, { name: name }) : "";
      helping.hidden = !name;
    } else if (said.supportBridge === "conversation") {
      kept.until = Date.now() + CONFIG.rememberDays * DAY;
      save();
    }
  });

  showAvailability(false);
  var asked = fetch(base + "api/availability?department=" + encodeURIComponent(department))
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
    describe();
    if (visit.open) {
      open(false);
      return;
    }
    if (kept.until) {
      // A conversation is under way: the chat is loaded (hidden) so replies are noticed.
      frame();
    }
    if (inviteAfter >= 0 && !visit.invited && !kept.until) {
      window.setTimeout(function () {
        asked.then(function () {
          // Only a team that is there invites: nobody would answer the greeting.
          if (online && panel.hidden && !visit.invited) {
            visit.invited = true;
            save();
            bubble.hidden = false;
          }
        });
      }, inviteAfter * 1000);
    }
  }

  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
