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
          text(document.getElementById("run-status-detail"), run.status_detail || "");
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

  // The schedule fields of a scan form: as they change, ask the server
  // (which checks them exactly as saving would) for the next fire times,
  // and show them, or the refusal beside the field it names.
  function schedulePreview(form) {
    var fields = { start_at: "scan-start", time_zone: "scan-tz", rrule: "scan-rrule" };
    var box = document.getElementById("schedule-preview");
    var list = document.getElementById("schedule-preview-times");
    var label = document.getElementById("schedule-preview-form");
    if (!box || !list || !label) {
      return;
    }
    var timer = null;
    var seq = 0;
    function showError(field, msg) {
      Object.keys(fields).forEach(function (f) {
        var input = document.getElementById(fields[f]);
        if (!input) {
          return;
        }
        var wrap = input.closest(".field");
        var err = document.getElementById(f + "-error");
        if (f === field) {
          if (!err) {
            err = document.createElement("p");
            err.className = "field-error";
            err.id = f + "-error";
            wrap.appendChild(err);
          }
          text(err, msg);
          wrap.classList.add("invalid");
        } else if (err) {
          err.remove();
          wrap.classList.remove("invalid");
        }
      });
    }
    function value(f) {
      var el = document.getElementById(fields[f]);
      return el ? el.value : "";
    }
    function update() {
      var mine = ++seq;
      var body = { start_at: value("start_at"), time_zone: value("time_zone"), rrule: value("rrule") };
      fetch("/api/v1/schedules/preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify(body)
      })
        .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); })
        .then(function (res) {
          if (mine !== seq) {
            return;
          }
          list.textContent = "";
          if (!res.ok) {
            var msg = res.j.error || "invalid schedule";
            var field = msg.split(":")[0];
            showError(fields[field] ? field : "rrule", msg);
            box.hidden = true;
            return;
          }
          showError("", "");
          box.hidden = false;
          if (res.j.form === "manual") {
            text(label, "No schedule: the scan runs when started by hand.");
            return;
          }
          text(label, "Next " + res.j.next.length + " fire times (" + res.j.time_zone + ", Temporal " + res.j.form + " schedule):");
          res.j.next.forEach(function (t) {
            var li = document.createElement("li");
            li.textContent = t;
            list.appendChild(li);
          });
        })
        .catch(function () {});
    }
    Object.keys(fields).forEach(function (f) {
      var el = document.getElementById(fields[f]);
      if (el) {
        el.addEventListener("input", function () {
          clearTimeout(timer);
          timer = setTimeout(update, 300);
        });
      }
    });
    if (value("start_at") !== "" || value("rrule") !== "") {
      update();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var scanForm = document.getElementById("scan-form");
    if (scanForm) {
      schedulePreview(scanForm);
    }
    var run = document.querySelector("[data-run-id][data-status]");
    if (run) {
      watchRun(run);
    }
    document.querySelectorAll("table.live-runs").forEach(watchDashboard);
    // Exposed for forms built by scripts; forms in pages carry the field.
    window.scantronCSRF = csrf;
  });
})();
