/* The chat page: welcome, pre-chat form, a Direct Line token from the bridge, Web Chat.
 *
 * Everything it says comes from the #config block the server rendered (texts in the
 * visitor's language, the form's mode, the departments, who is online). The conversation
 * is kept in localStorage for CHAT_REMEMBER_DAYS: its token, its watermark and its
 * history, so a reload, another tab or the next day shows the same conversation and
 * carries on from where the stream stopped. An expired token is renewed by the bridge,
 * which checks its signed cookie that the conversation is this visitor's.
 *
 * In the website's panel (an iframe) it tells the widget about each new line, so the
 * widget can show an unread count and a preview while the panel is closed.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);
  var texts = config.texts;
  var CHAT = "supportBridge.chat";
  var ABOUT = "supportBridge.about";
  var DAY = 86400000;
  var HISTORY = 200;
  var embedded = window.parent !== window;
  var unread = 0;
  var pageTitle = document.title;

  function byId(id) {
    return document.getElementById(id);
  }

  function say(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (all, name) {
      return values && values[name] !== undefined ? values[name] : all;
    });
  }

  function read(key) {
    try {
      return JSON.parse(window.localStorage.getItem(key) || "null");
    } catch (error) {
      return null;
    }
  }

  function write(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* storage may be blocked (private mode): the chat still works, it just forgets */
    }
  }

  function forget(key) {
    try {
      window.localStorage.removeItem(key);
    } catch (error) {
      /* nothing kept */
    }
  }

  /* Tell the widget around this page (if any); only the bridge's own pages and
   * ALLOWED_ORIGINS may frame it (frame-ancestors), and the widget checks the source. */
  function tell(kind, details) {
    if (embedded) {
      window.parent.postMessage(Object.assign({ supportBridge: kind }, details || {}), "*");
    }
  }

  if (embedded) {
    // Escape closes the panel from wherever the visitor is typing, as for any dialog.
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        tell("close");
      }
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("token request answered " + response.status);
      }
      return response.json();
    });
  }

  function initials(name) {
    var words = String(name || "").trim().split(/\s+/).filter(Boolean);
    if (!words.length) {
      return "?";
    }
    var letters = words[0].charAt(0) + (words.length > 1 ? words[words.length - 1].charAt(0) : "");
    return letters.toUpperCase();
  }

  /* -- the conversation kept in localStorage --------------------------------------- */

  function remembered() {
    var saved = read(CHAT);
    if (!saved || !saved.token || !saved.until || saved.until < Date.now()) {
      forget(CHAT);
      return null;
    }
    saved.history = saved.history || [];
    return saved;
  }

  function keep(session) {
    session.until = Date.now() + config.rememberDays * DAY;
    write(CHAT, session);
  }

  /* -- the header and the welcome ---------------------------------------------------- */

  function showStatus(agent) {
    var status = byId("status");
    if (agent) {
      status.textContent = say(texts.helping, { name: agent });
    } else {
      status.textContent = config.online ? texts.status_online : texts.status_offline;
    }
    status.classList.toggle("online", !!config.online || !!agent);
  }

  function fillTexts() {
    document.querySelectorAll("[data-text]").forEach(function (element) {
      element.textContent = texts[element.getAttribute("data-text")] || "";
    });
  }

  function welcome() {
    // Who is there: shown only when someone is; otherwise one notice says nobody is.
    var faces = byId("faces");
    config.faces.forEach(function (face) {
      var item = document.createElement("li");
      item.textContent = face;
      faces.appendChild(item);
    });
    byId("team-state").textContent = texts.online_now;
    byId("reply-time").textContent = config.replyTime || "";
    byId("welcome").querySelector(".team").hidden = !config.online;
    if (config.invited) {
      // The greeting is the chat's first line already.
      byId("welcome").querySelector(".greeting").remove();
    }
    byId("offline-notice").hidden = !!config.online;
    if (config.offers.length) {
      var list = byId("offer-list");
      config.offers.forEach(function (offer) {
        var item = document.createElement("li");
        item.className = "offer offer-" + offer.channel;
        var link = document.createElement("a");
        link.href = offer.url;
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = offer.label;
        var code = document.createElement("figure");
        code.className = "qr";
        var image = document.createElement("img");
        image.src = offer.qr;
        image.alt = "QR: " + offer.url;
        image.width = 116;
        image.height = 116;
        var caption = document.createElement("figcaption");
        caption.textContent = texts.scan;
        code.append(image, caption);
        item.append(link, code);
        list.appendChild(item);
      });
      byId("offers").hidden = false;
    }
    byId("welcome").hidden = false;
  }

  var told = false;

  /* The first line is written: the welcome gives way, "new conversation" is offered, and
   * the widget keeps the chat loaded on the shop's next pages (to notice replies). */
  function underway(session) {
    byId("welcome").hidden = true;
    byId("tools").hidden = false;
    if (!told) {
      told = true;
      tell("conversation", { until: session.until });
    }
  }

  /* -- the pre-chat form ---------------------------------------------------------- */

  function askDepartment() {
    return config.departments.length > 1 && !config.department;
  }

  var EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  var PHONE = /^\+?[\d\s().-]+$/;

  function contactProblem(value, needed) {
    if (!value) {
      return needed ? texts.error_contact : "";
    }
    var digits = value.replace(/\D/g, "").length;
    var phone = PHONE.test(value) && digits >= 9 && digits <= 15;
    return EMAIL.test(value) || phone ? "" : texts.error_contact_format;
  }

  function prechatForm(mode, done) {
    var form = byId("prechat");
    var required = mode === "required";
    var offline = mode === "offline";
    var select = byId("prechat-department");
    var fields = {
      name: { input: byId("prechat-name"), needed: required, missing: texts.error_name },
      contact: { input: byId("prechat-contact"), needed: required || offline },
      department: {
        input: select,
        needed: required && askDepartment(),
        missing: texts.error_department
      }
    };
    byId("prechat-intro").textContent = offline ? texts.offline_prechat : texts.prechat_intro;
    byId("offline-notice").hidden = true;  // the form's own words say it
    Object.keys(fields).forEach(function (key) {
      var field = fields[key];
      var mark = field.input.closest(".field").querySelector(".mark");
      mark.textContent = " (" + (field.needed ? texts.required : texts.optional) + ")";
      if (field.needed) {
        field.input.setAttribute("aria-required", "true");
      }
    });
    if (mode === "optional") {
      byId("prechat-skip").hidden = false;
      byId("prechat-skip").addEventListener("click", function () {
        done({});
      });
    }
    if (config.privacyUrl) {
      byId("privacy-link").href = config.privacyUrl;
      byId("privacy-link").hidden = false;
    }
    if (askDepartment()) {
      byId("prechat-department-field").hidden = false;
      select.appendChild(new Option(texts.choose_department, ""));
      config.departments.forEach(function (choice) {
        select.appendChild(new Option(choice[1], choice[0]));
      });
    }
    form.hidden = false;
    byId("prechat-name").focus();

    function problem(key) {
      var field = fields[key];
      var value = field.input.value.trim();
      if (key === "contact") {
        return contactProblem(value, field.needed);
      }
      return field.needed && !value ? field.missing : "";
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var first = null;
      Object.keys(fields).forEach(function (key) {
        var field = fields[key];
        var error = byId(field.input.id + "-error");
        var found = field.input.closest(".field").hidden ? "" : problem(key);
        field.input.setAttribute("aria-invalid", found ? "true" : "false");
        error.textContent = found;
        if (found && !first) {
          first = field.input;
        }
      });
      if (first) {
        first.focus();
        return;
      }
      done({
        name: fields.name.input.value.trim(),
        contact: fields.contact.input.value.trim(),
        department: askDepartment() ? select.value : ""
      });
    });
  }

  /* -- Web Chat --------------------------------------------------------------------- */

  function domain() {
    return config.directLine || window.location.origin + config.localDirectLine;
  }

  function botLine(id, text) {
    return {
      type: "DIRECT_LINE/INCOMING_ACTIVITY",
      payload: {
        activity: {
          type: "message",
          id: "local-" + id + "-" + Date.now(),
          from: { id: "support-bridge", role: "bot", name: texts.title },
          text: text,
          timestamp: new Date().toISOString()
        }
      }
    };
  }

  // Web Chat renders React elements; its bundle keeps React to itself, so the few this
  // page adds (system lines, the agent's name) are made as plain element objects.
  var ELEMENT = typeof Symbol === "function" && Symbol.for ? Symbol.for("react.element") : 0xeac7;

  function h(type, props) {
    var children = Array.prototype.slice.call(arguments, 2);
    var all = Object.assign({}, props);
    if (children.length) {
      all.children = children.length === 1 ? children[0] : children;
    }
    return { $$typeof: ELEMENT, type: type, key: null, ref: null, props: all, _owner: null };
  }

  function agentOf(activity) {
    var data = activity.channelData && activity.channelData.supportBridge;
    return data && data.kind === "agent" && typeof data.name === "string" ? data.name : "";
  }

  /* Who helps the customer now, as a line tells it: an agent's line names its writer;
   * the bridge's notice of an accept, a transfer or a leave names the helper, its notice
   * of a close names nobody (""). null: the line does not change who helps. */
  function helperOf(activity) {
    var agent = agentOf(activity);
    var data = activity.channelData && activity.channelData.supportBridge;
    if (agent || !data || typeof data.helper !== "string") {
      return agent || null;
    }
    return data.helper;
  }

  /* The header (and the widget's, around the panel) names the helper, or shows the
   * team's state again when nobody helps. */
  function showHelper(name) {
    showStatus(name);
    tell("agent", { name: name });
  }

  function fromBot(activity) {
    return activity.type === "message" && activity.from && activity.from.role === "bot";
  }

  /* The bridge's own words (not an agent's line, no card, no choices): a system line. */
  function isNotice(activity) {
    return (
      fromBot(activity) &&
      !agentOf(activity) &&
      !!activity.text &&
      !(activity.attachments && activity.attachments.length) &&
      !(activity.suggestedActions && activity.suggestedActions.actions &&
        activity.suggestedActions.actions.length)
    );
  }

  function activityMiddleware() {
    return function (next) {
      return function () {
        var args = arguments;
        var activity = args[0] && args[0].activity;
        var render = next.apply(null, args);
        if (!activity || !render) {
          return render;
        }
        if (isNotice(activity)) {
          return function () {
            return h("div", { className: "sb-notice" }, h("p", null, activity.text));
          };
        }
        var agent = agentOf(activity);
        if (agent) {
          return function () {
            return h(
              "div",
              { className: "sb-agent" },
              h(
                "p",
                { className: "sb-agent-name" },
                h("span", { className: "sb-initials", "aria-hidden": "true" }, initials(agent)),
                agent
              ),
              render.apply(null, arguments)
            );
          };
        }
        return render;
      };
    };
  }

  /* What a line looks like in a notice: its text, else its files' names. */
  function gist(activity) {
    if (activity.text) {
      return activity.text;
    }
    return (activity.attachments || [])
      .map(function (attachment) {
        return attachment.name || "";
      })
      .join(", ");
  }

  function noticeNew(activity, session) {
    var at = Date.parse(activity.timestamp || "") || Date.now();
    if (session.seen && at <= session.seen) {
      return;
    }
    session.seen = at;
    var agent = agentOf(activity);
    var name = agent || texts.title;
    var text = gist(activity);
    tell("message", { name: name, initials: initials(name), text: text, agent: !!agent });
    var helper = helperOf(activity);
    if (helper !== null) {
      // Kept with the conversation: a reload after a close must not name the agent again.
      session.agent = helper;
      showHelper(helper);
    }
    if (!embedded && document.hidden) {
      unread += 1;
      document.title = say(texts.unread_title, { count: unread }) + " – " + pageTitle;
      byId("announce").textContent = say(texts.announce, { name: name, text: text });
    }
  }

  function remember(session, activity) {
    var kept = {
      type: activity.type,
      id: activity.id,
      from: activity.from,
      text: activity.text,
      textFormat: activity.textFormat,
      timestamp: activity.timestamp,
      channelData: activity.channelData && activity.channelData.supportBridge
        ? { supportBridge: activity.channelData.supportBridge }
        : undefined,
      attachments: (activity.attachments || []).filter(function (attachment) {
        return !/^blob:/.test(attachment.contentUrl || "");
      })
    };
    var at = session.history.findIndex(function (old) {
      return old.id === kept.id;
    });
    if (at >= 0) {
      kept.answered = session.history[at].answered;
      session.history[at] = kept;
    } else {
      session.history.push(kept);
    }
    session.history = session.history.slice(-HISTORY);
  }

  var CARD = "application/vnd.microsoft.card.adaptive";

  function hasCard(activity) {
    return (activity.attachments || []).some(function (attachment) {
      return attachment.contentType === CARD;
    });
  }

  /* A card is the whole question (the rating's five choices): no quick replies under it. */
  function oneprompt(action) {
    var activity = action.payload.activity;
    if (!hasCard(activity) || !activity.suggestedActions) {
      return action;
    }
    var plain = Object.assign({}, activity);
    delete plain.suggestedActions;
    return Object.assign({}, action, {
      payload: Object.assign({}, action.payload, { activity: plain })
    });
  }

  /* A card once answered is locked (its buttons no longer act) and stays so on reload. */
  function answered(session, value) {
    var pressed = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest(".ac-adaptiveCard")
      : null;
    if (pressed) {
      pressed.setAttribute("inert", "");
      pressed.classList.add("sb-answered");
    }
    var mark = value.chat ? JSON.stringify(value.chat) : null;
    for (var i = session.history.length - 1; i >= 0; i -= 1) {
      var kept = session.history[i];
      if (hasCard(kept) && (!mark || JSON.stringify(kept.attachments).indexOf(mark) >= 0)) {
        kept.answered = true;
        break;
      }
    }
    keep(session);
  }

  function replayed(kept) {
    return kept.answered ? Object.assign({}, kept, { attachments: [] }) : kept;
  }

  function refuseFiles(api, attachments) {
    var limit = config.uploadLimit;
    var megabytes = Math.round(limit / 1048576);
    return attachments.filter(function (attachment) {
      var blob = attachment.blob || {};
      var fits = config.accept.indexOf(blob.type) >= 0 && blob.size <= limit;
      if (!fits) {
        var line = say(texts.upload_refused, { name: blob.name || "", size: megabytes });
        api.dispatch(botLine("refused", line));
      }
      return fits;
    });
  }

  function start(session, about) {
    var resumed = session.history.length > 0 || !!session.watermark;
    var prechat = {};
    ["name", "contact"].forEach(function (key) {
      if (about[key]) {
        prechat[key] = about[key];
      }
    });
    if (about.department || config.department) {
      prechat.department = about.department || config.department;
    }
    var opening = [];
    var replaying = false;
    if (resumed) {
      underway(session);
    } else if (config.invited) {
      opening.push(botLine("greeting", texts.greeting));
    }
    // Always said: after "new conversation" the widget's header still names the last one.
    showHelper(session.agent || "");
    var directLine = null;
    var store = window.WebChat.createStore({}, function (api) {
      return function (next) {
        return function (action) {
          if (action.type === "DIRECT_LINE/POST_ACTIVITY") {
            var activity = action.payload.activity;
            var channelData = Object.assign({}, activity.channelData, { prechat: prechat });
            action = Object.assign({}, action, {
              payload: Object.assign({}, action.payload, {
                activity: Object.assign({}, activity, { channelData: channelData })
              })
            });
            underway(session);
            if (activity.value && typeof activity.value === "object") {
              answered(session, activity.value);
            }
          }
          if (action.type === "DIRECT_LINE/INCOMING_ACTIVITY") {
            action = oneprompt(action);
          }
          if (action.type === "WEB_CHAT/SET_SEND_BOX_ATTACHMENTS") {
            var fitting = refuseFiles(api, action.payload.attachments || []);
            action = Object.assign({}, action, {
              payload: Object.assign({}, action.payload, { attachments: Object.freeze(fitting) })
            });
          }
          var result = next(action);
          if (action.type === "DIRECT_LINE/CONNECT_FULFILLED") {
            replaying = true;
            session.history.forEach(function (kept) {
              api.dispatch({
                type: "DIRECT_LINE/INCOMING_ACTIVITY",
                payload: { activity: replayed(kept) }
              });
            });
            replaying = false;
            opening.splice(0).forEach(api.dispatch);
          }
          if (action.type === "DIRECT_LINE/INCOMING_ACTIVITY" && !replaying) {
            var incoming = action.payload.activity;
            if (incoming.type === "message" && !/^local-/.test(incoming.id || "")) {
              underway(session);
              remember(session, incoming);
              if (fromBot(incoming)) {
                noticeNew(incoming, session);
              }
              session.watermark = (directLine && directLine.watermark) || session.watermark;
              keep(session);
            }
          }
          if (action.type === "DIRECT_LINE/CONNECT_REJECTED") {
            failed();
          }
          return result;
        };
      };
    });
    var options = { token: session.token, domain: domain() };
    if (resumed || session.conversationId) {
      options.conversationId = session.conversationId;
    }
    if (session.watermark && session.history.length) {
      options.watermark = session.watermark;
    }
    directLine = window.WebChat.createDirectLine(options);
    window.setInterval(function () {
      if (directLine.token && directLine.token !== session.token) {
        session.token = directLine.token;
        keep(session);
      }
    }, 60000);
    var element = byId("webchat");
    var brand = getComputedStyle(document.documentElement).getPropertyValue("--brand").trim();
    element.hidden = false;
    window.WebChat.renderWebChat(
      {
        directLine: directLine,
        store: store,
        userID: session.userId,
        username: about.name || texts.guest,
        locale: config.locale,
        activityMiddleware: activityMiddleware,
        styleOptions: {
          accent: brand,
          bubbleFromUserBackground: brand,
          bubbleFromUserTextColor: "#fff",
          bubbleFromUserBorderWidth: 0,
          bubbleBorderRadius: 12,
          bubbleFromUserBorderRadius: 12,
          sendBoxTextWrap: true,
          uploadAccept: config.accept.join(","),
          uploadMultiple: true,
          sendAttachmentOn: "attach"
        },
        overrideLocalizedStrings: {
          TEXT_INPUT_PLACEHOLDER: texts.placeholder,
          TEXT_INPUT_UPLOAD_BUTTON_ALT: texts.attach
        }
      },
      element
    );
    var focus = window.setInterval(function () {
      var input = element.querySelector("[data-id='webchat-sendbox-input']");
      if (input) {
        window.clearInterval(focus);
        if (!embedded || document.hasFocus()) {
          input.focus();
        }
      }
    }, 100);
  }

  function failed() {
    byId("webchat").hidden = true;
    byId("failed").hidden = false;
  }

  function fresh(issued, about) {
    return {
      token: issued.token,
      conversationId: issued.conversationId,
      userId: issued.userId,
      about: about,
      history: [],
      watermark: null,
      seen: null,
      agent: ""
    };
  }

  /* A token for the remembered conversation: refreshed while it is valid, else renewed
   * by the bridge (its signed cookie proves the conversation is this visitor's); when
   * neither works, a new conversation. */
  function connect(saved, about) {
    function renew() {
      var body = { name: about.name || "" };
      if (saved) {
        body.resume = saved.conversationId;
      }
      return post(config.tokenUrl, body).then(function (issued) {
        if (saved && issued.resumed && issued.conversationId === saved.conversationId) {
          saved.token = issued.token;
          saved.userId = issued.userId || saved.userId;
          return saved;
        }
        return fresh(issued, about);
      });
    }
    if (!saved) {
      return renew();
    }
    return post(config.refreshUrl, { token: saved.token }).then(function (refreshed) {
      saved.token = refreshed.token;
      return saved;
    }, renew);
  }

  function begin(about) {
    byId("prechat").hidden = true;
    connect(remembered(), about)
      .then(function (session) {
        keep(session);
        start(session, session.about || about);
      })
      .catch(failed);
  }

  function formMode(known, inProgress) {
    if (inProgress || config.prechat === "off") {
      return "";
    }
    if (config.prechat === "offline") {
      return !config.online && !(known && known.contact) ? "offline" : "";
    }
    return known ? "" : config.prechat;
  }

  function main() {
    fillTexts();
    showStatus("");
    byId("retry").addEventListener("click", function () {
      forget(CHAT);
      window.location.reload();
    });
    byId("new-conversation").addEventListener("click", function () {
      forget(CHAT);
      window.location.reload();
    });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) {
        unread = 0;
        document.title = pageTitle;
      }
    });
    window.addEventListener("message", function (event) {
      var fromWidget = embedded && event.source === window.parent;
      if (fromWidget && event.data && event.data.supportBridge === "new") {
        forget(CHAT);
        window.location.reload();
      }
    });
    if (!window.WebChat) {
      failed();
      return;
    }
    var known = read(ABOUT);
    var inProgress = remembered();
    if (!inProgress || !inProgress.history.length) {
      welcome();
    }
    var mode = formMode(known, inProgress);
    if (!mode) {
      begin(known || {});
      return;
    }
    prechatForm(mode, function (about) {
      write(ABOUT, about);
      begin(about);
    });
  }

  main();
})();
