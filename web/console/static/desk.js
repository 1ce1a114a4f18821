// The live page's alerts: a browser notification (asked for on a button press, never on
// load) and an optional sound (off unless turned on here; remembered in localStorage)
// when a new chat starts waiting. The chats seen when the page opened alert nobody.
(function () {
  "use strict";
  var box = document.getElementById("live");
  var alerts = document.getElementById("alerts");
  if (!box || !alerts) { return; }
  var button = document.getElementById("alerts-button");
  var state = document.getElementById("alerts-state");
  var sound = document.getElementById("sound-toggle");
  var SOUND_KEY = "console.sound";
  var supported = "Notification" in window;

  function waiting() {
    var found = {};
    box.querySelectorAll("tr.chat.waiting[data-chat]").forEach(function (row) {
      var name = row.querySelector("td strong");
      found[row.dataset.chat] = name ? name.textContent : "";
    });
    return found;
  }

  function showState() {
    if (!supported) { return; }
    var permission = Notification.permission;
    button.hidden = permission !== "default";
    state.textContent = permission === "granted" ? alerts.dataset.on
      : permission === "denied" ? alerts.dataset.blocked : "";
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    var audio = new Context();
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.1;
    tone.connect(gain);
    gain.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.2);
    tone.onended = function () { audio.close(); };
  }

  function announce(customer) {
    if (supported && Notification.permission === "granted") {
      // Text only: the body is never read as markup.
      new Notification(alerts.dataset.title, { body: alerts.dataset.body.replace("{customer}", customer), tag: "console-waiting" });
    }
    if (sound.checked) { beep(); }
  }

  // The notice after a Join is said once: a reload does not say it again.
  if (window.URLSearchParams && new URLSearchParams(window.location.search).has("joined")) {
    var url = new URL(window.location.href);
    url.searchParams.delete("joined");
    window.history.replaceState(null, "", url.toString());
  }

  var known = waiting();
  new MutationObserver(function () {
    var now = waiting();
    Object.keys(now).forEach(function (ref) {
      if (!(ref in known)) { announce(now[ref]); }
    });
    known = now;
  }).observe(box, { childList: true });

  sound.checked = window.localStorage.getItem(SOUND_KEY) === "on";
  sound.addEventListener("change", function () {
    window.localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
  });
  if (supported) {
    button.addEventListener("click", function () {
      Notification.requestPermission().then(showState);
    });
    showState();
  }
})();
