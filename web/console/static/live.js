// The live page: the server pushes the table again whenever the department's open
// chats change (Server-Sent Events); waiting times tick here between pushes.
(function () {
  "use strict";
  var box = document.getElementById("live");
  var status = document.getElementById("live-status");
  if (!box || !window.EventSource) { return; }
  var shownAt = Date.now();

  // A wait in words in the page's language ("5 phút 55 giây"): the two largest units,
  // as the server says them (cards/times.py exact_duration).
  var language = document.documentElement.lang || "en";
  var units = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  var sayers = units.map(function (unit) {
    return new Intl.NumberFormat(language, { style: "unit", unit: unit[1], unitDisplay: "long" });
  });
  function format(seconds) {
    var s = Math.max(0, Math.round(seconds));
    for (var i = 0; i < units.length; i++) {
      if (s >= units[i][0] || i === units.length - 1) {
        var big = Math.floor(s / units[i][0]), rest = s % units[i][0];
        var words = sayers[i].format(big);
        var next = i + 1 < units.length ? Math.floor(rest / units[i + 1][0]) : 0;
        return next ? words + " " + sayers[i + 1].format(next) : words;
      }
    }
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
