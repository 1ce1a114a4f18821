// The live page: the server pushes the table again whenever the department's open
// chats change (Server-Sent Events); waiting times tick here between pushes.
(function () {
  "use strict";
  var box = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!box || !window.EventSource) { return; }
  var shownAt = Date.now();

  function format(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + "h " + pad(m) + "m" : m + "m " + pad(r) + "s";
  }

  function tick() {
    var elapsed = (Date.now() - shownAt) / 1000;
    box.querySelectorAll(".waited[data-running='yes']").forEach(function (cell) {
      cell.textContent = format(Number(cell.dataset.seconds) + elapsed);
    });
  }

  var events = new EventSource(box.dataset.events);
  events.addEventListener("chats", function (event) {
    box.innerHTML = event.data;
    shownAt = Date.now();
    box.dataset.updated = String(shownAt);
  });
  events.addEventListener("signedout", function (event) {
    events.close();
    window.location.assign(event.data);
  });
  events.onopen = function () { status.dataset.state = "live"; };
  events.onerror = function () { status.dataset.state = "reconnecting"; };
  setInterval(tick, 1000);
})();
