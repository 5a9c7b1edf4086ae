// Guts: the only script. Pages work without it; it adds line ranges, copy buttons,
// readable times, and live updates over /ws.
(function () {
  "use strict";

  // Times: "3 minutes ago" from data-unix.
  function ago(secs) {
    var d = Math.max(0, Date.now() / 1000 - secs);
    var units = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"]];
    for (var i = 0; i < units.length; i++) {
      var n = Math.floor(d / units[i][0]);
      if (n >= 1) return n + " " + units[i][1] + (n > 1 ? "s" : "") + " ago";
    }
    return "just now";
  }
  function times(root) {
    var els = (root || document).querySelectorAll("time[data-unix]");
    for (var i = 0; i < els.length; i++) {
      var t = Number(els[i].getAttribute("data-unix"));
      if (t > 0) {
        els[i].textContent = ago(t);
        els[i].title = new Date(t * 1000).toISOString();
      }
    }
  }

  // Line anchors: #L10 or #L10-L20 highlights those lines.
  function lines() {
    var rows = document.querySelectorAll("table.code tr.hl");
    for (var i = 0; i < rows.length; i++) rows[i].classList.remove("hl");
    var m = /^#L(\d+)(?:-L(\d+))?$/.exec(location.hash);
    if (!m) return;
    var from = Number(m[1]), to = Number(m[2] || m[1]);
    for (var n = Math.min(from, to); n <= Math.max(from, to); n++) {
      var row = document.getElementById("L" + n);
      if (row) row.classList.add("hl");
    }
  }
  var anchor = null;
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("td.ln a");
    if (a && e.shiftKey && anchor) {
      e.preventDefault();
      var n = a.getAttribute("href").slice(2);
      location.hash = "#L" + Math.min(anchor, n) + "-L" + Math.max(anchor, n);
    } else if (a) {
      anchor = Number(a.getAttribute("href").slice(2));
    }
    var b = e.target.closest && e.target.closest("button[data-copy]");
    if (b) {
      var input = document.getElementById(b.getAttribute("data-copy"));
      if (input) {
        input.select();
        if (navigator.clipboard) navigator.clipboard.writeText(input.value);
        b.textContent = "Copied";
      }
    }
  });
  window.addEventListener("hashchange", lines);

  // Live: a repository page follows its events.
  function live() {
    var head = document.querySelector("[data-repo]");
    if (!head || !window.WebSocket) return;
    var repo = head.getAttribute("data-repo");
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "subscribe", channel: "repo:" + repo }));
    };
    ws.onmessage = function (m) {
      var e;
      try { e = JSON.parse(m.data); } catch (err) { return; }
      if (e && e.type === "subscribed") {
        // Tests and readers can tell the page follows its repository from here on.
        document.documentElement.dataset.live = "on";
        return;
      }
      if (!e || !e.type) return;
      refresh(e);
    };
  }
  // Fetches this page again and swaps in the parts that changed.
  function refresh(e) {
    fetch(location.href, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) return;
      var doc = new DOMParser().parseFromString(html, "text/html");
      var ids = ["last-commit", "commits", "readme", "comments", "thread-state"];
      for (var i = 0; i < ids.length; i++) {
        var now = document.getElementById(ids[i]), next = doc.getElementById(ids[i]);
        if (now && next) now.replaceWith(document.importNode(next, true));
      }
      times();
      var note = document.createElement("div");
      note.className = "live-note";
      note.textContent = "Updated: " + e.type;
      document.body.appendChild(note);
      setTimeout(function () { note.remove(); }, 4000);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    times();
    lines();
    live();
  });
})();
