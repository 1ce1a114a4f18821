/* The chat page: pre-chat form, a Direct Line token from the bridge, then Web Chat.
 *
 * Everything it says comes from the #config block the server rendered (texts in the
 * visitor's language, the form's mode, the departments). The conversation is kept in
 * sessionStorage, so reloading or navigating (the widget's panel) resumes it; what the
 * visitor told the form is kept in localStorage, so a returning visitor is not asked again.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("config").textContent);

  // In the website's panel (an iframe), Escape closes the panel from wherever the
  // visitor is typing, as it does for any dialog; the widget checks where it came from.
  if (window.parent !== window) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        window.parent.postMessage({ supportBridge: "close" }, "*");
      }
    });
  }
  var texts = config.texts;
  var SESSION = "supportBridge.session";
  var ABOUT = "supportBridge.about";

  function byId(id) {
    return document.getElementById(id);
  }

  function read(storage, key) {
    try {
      return JSON.parse(storage.getItem(key) || "null");
    } catch (error) {
      return null;
    }
  }

  function write(storage, key, value) {
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* storage may be blocked (private mode): the chat still works, it just forgets */
    }
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

  function showStatus() {
    var status = byId("status");
    status.textContent = config.online ? texts.status_online : texts.status_offline;
    status.classList.toggle("online", !!config.online);
  }

  function fillTexts() {
    document.querySelectorAll("[data-text]").forEach(function (element) {
      element.textContent = texts[element.getAttribute("data-text")] || "";
    });
  }

  /* -- the pre-chat form ---------------------------------------------------------- */

  function askDepartment() {
    return config.departments.length > 1 && !config.department;
  }

  function prechatForm(done) {
    var form = byId("prechat");
    var required = config.prechat === "required";
    byId("prechat-intro").textContent = texts.prechat_intro;
    if (!required) {
      form.querySelectorAll("label > span").forEach(function (label) {
        var note = document.createElement("span");
        note.className = "optional";
        note.textContent = " (" + texts.optional + ")";
        label.parentNode.appendChild(note);
      });
      byId("prechat-skip").hidden = false;
      byId("prechat-skip").addEventListener("click", function () {
        done({});
      });
    }
    var select = byId("prechat-department");
    if (askDepartment()) {
      byId("prechat-department-field").hidden = false;
      var blank = new Option(texts.choose_department, "");
      select.appendChild(blank);
      config.departments.forEach(function (choice) {
        select.appendChild(new Option(choice[1], choice[0]));
      });
    }
    form.hidden = false;
    byId("prechat-name").focus();
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var fields = [byId("prechat-name"), byId("prechat-contact")];
      if (askDepartment()) {
        fields.push(select);
      }
      var missing = fields.filter(function (field) {
        var empty = !field.value.trim();
        field.setAttribute("aria-invalid", required && empty ? "true" : "false");
        return required && empty;
      });
      if (missing.length) {
        missing[0].focus();
        return;
      }
      done({
        name: byId("prechat-name").value.trim(),
        contact: byId("prechat-contact").value.trim(),
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
          id: "local-" + id,
          from: { id: "support-bridge", role: "bot", name: texts.title },
          text: text,
          timestamp: new Date().toISOString()
        }
      }
    };
  }

  function start(session, about, resumed) {
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
    if (!resumed && config.invited) {
      opening.push(botLine("greeting", texts.greeting));
    }
    if (!resumed && !config.online) {
      opening.push(botLine("offline", texts.offline_notice));
    }
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
          }
          var result = next(action);
          if (action.type === "DIRECT_LINE/CONNECT_FULFILLED") {
            opening.splice(0).forEach(api.dispatch);
          }
          if (action.type === "DIRECT_LINE/CONNECT_REJECTED") {
            failed();
          }
          return result;
        };
      };
    });
    var options = { token: session.token, domain: domain() };
    if (resumed) {
      options.conversationId = session.conversationId;
    }
    var directLine = window.WebChat.createDirectLine(options);
    window.setInterval(function () {
      if (directLine.token && directLine.token !== session.token) {
        session.token = directLine.token;
        write(window.sessionStorage, SESSION, session);
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
        styleOptions: {
          accent: brand,
          bubbleFromUserBackground: brand,
          bubbleFromUserTextColor: "#fff",
          bubbleFromUserBorderWidth: 0,
          hideUploadButton: true,
          bubbleBorderRadius: 12,
          bubbleFromUserBorderRadius: 12,
          sendBoxTextWrap: true
        },
        overrideLocalizedStrings: { TEXT_INPUT_PLACEHOLDER: texts.placeholder }
      },
      element
    );
    var focus = window.setInterval(function () {
      var input = element.querySelector("[data-id='webchat-sendbox-input']");
      if (input) {
        window.clearInterval(focus);
        input.focus();
      }
    }, 100);
  }

  function failed() {
    byId("webchat").hidden = true;
    byId("failed").hidden = false;
  }

  function begin(about) {
    byId("prechat").hidden = true;
    var saved = read(window.sessionStorage, SESSION);
    var resume = saved && saved.token
      ? post(config.refreshUrl, { token: saved.token }).then(function (fresh) {
          saved.token = fresh.token;
          return true;
        }, function () {
          return false;
        })
      : Promise.resolve(false);
    resume
      .then(function (resumed) {
        if (resumed) {
          return [saved, resumed];
        }
        return post(config.tokenUrl, { name: about.name || "" }).then(function (issued) {
          return [
            {
              token: issued.token,
              conversationId: issued.conversationId,
              userId: issued.userId,
              about: about
            },
            false
          ];
        });
      })
      .then(function (found) {
        write(window.sessionStorage, SESSION, found[0]);
        start(found[0], found[0].about || about, found[1]);
      })
      .catch(failed);
  }

  function main() {
    fillTexts();
    showStatus();
    byId("retry").addEventListener("click", function () {
      window.sessionStorage.removeItem(SESSION);
      window.location.reload();
    });
    if (!window.WebChat) {
      failed();
      return;
    }
    var known = read(window.localStorage, ABOUT);
    var inProgress = read(window.sessionStorage, SESSION);
    if (config.prechat === "off" || inProgress || known) {
      begin(known || {});
      return;
    }
    prechatForm(function (about) {
      write(window.localStorage, ABOUT, about);
      begin(about);
    });
  }

  main();
})();
