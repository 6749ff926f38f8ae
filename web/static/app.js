// Scantron's only script: live progress on run pages and the dashboard,
// and confirmation of destructive buttons. It talks to this server's JSON
// API only, with the session cookie; it is served from the binary.
"use strict";

(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  // Buttons with data-confirm ask before their form is sent.
  document.addEventListener("submit", function (ev) {
    var b = ev.submitter || ev.target.querySelector("[data-confirm]");
    var msg = (b && b.dataset && b.dataset.confirm) || ev.target.dataset.confirm;
    if (msg && !window.confirm(msg)) {
      ev.preventDefault();
    }
  });

  function text(el, v) {
    if (el && el.textContent !== String(v)) {
      el.textContent = String(v);
    }
  }

  var finalStates = { completed: true, failed: true, cancelled: true };

  // A run page: poll the run until it ends, then reload to show results.
  function watchRun(el) {
    var id = el.dataset.runId;
    var start = el.dataset.status;
    if (finalStates[start]) {
      return;
    }
    function tick() {
      fetch("/api/v1/runs/" + encodeURIComponent(id), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (run) {
          var st = document.getElementById("run-status");
          if (st) {
            text(st, run.status);
            st.className = "status status-" + run.status;
          }
          text(document.getElementById("run-hosts-up"), run.hosts_up);
          text(document.getElementById("run-open-ports"), run.open_ports);
          (run.shards || []).forEach(function (sh) {
            text(document.getElementById("shard-" + sh.index + "-status"), sh.status);
            text(document.getElementById("shard-" + sh.index + "-attempt"), sh.attempt);
          });
          (run.progress || []).forEach(function (p) {
            var bar = document.getElementById("shard-" + p.shard_index + "-progress");
            if (bar) {
              bar.value = p.percent || 0;
              bar.title = (p.percent || 0).toFixed(1) + "% " + (p.task || "");
            }
            text(document.getElementById("shard-" + p.shard_index + "-pct"), (p.percent || 0).toFixed(1) + "%");
          });
          if (finalStates[run.status]) {
            window.location.reload();
            return;
          }
          setTimeout(tick, 2000);
        })
        .catch(function () { setTimeout(tick, 5000); });
    }
    setTimeout(tick, 1000);
  }

  // Tables of runs: poll the unfinished ones and refresh their status and
  // progress bars.
  function watchDashboard(table) {
    function tick() {
      var rows = table.querySelectorAll("tr[data-run-id]");
      if (rows.length === 0) {
        return;
      }
      var pending = [];
      rows.forEach(function (row) {
        pending.push(
          fetch("/api/v1/runs/" + encodeURIComponent(row.dataset.runId), { credentials: "same-origin" })
            .then(function (r) { return r.ok ? r.json() : null; })
            .then(function (run) {
              if (!run) {
                return;
              }
              var st = row.querySelector(".status");
              if (st) {
                text(st, run.status);
                st.className = "status status-" + run.status;
              }
              var pct = 0;
              (run.progress || []).forEach(function (p) { pct += (p.percent || 0); });
              var n = (run.shards || []).length || 1;
              var bar = row.querySelector("progress");
              if (bar) {
                bar.value = finalStates[run.status] ? 100 : pct / n;
              }
              if (finalStates[run.status]) {
                row.removeAttribute("data-run-id");
              }
            })
        );
      });
      Promise.all(pending).finally(function () { setTimeout(tick, 3000); });
    }
    setTimeout(tick, 2000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var run = document.querySelector("[data-run-id][data-status]");
    if (run) {
      watchRun(run);
    }
    document.querySelectorAll("table.live-runs").forEach(watchDashboard);
    // Exposed for forms built by scripts; forms in pages carry the field.
    window.scantronCSRF = csrf;
  });
})();
