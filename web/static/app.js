// Scantron's only script: live progress on run pages and the dashboard,
// and confirmation of destructive buttons. It talks to this server's API
// only (JSON, and Server-Sent Events), with the session cookie; it is
// served from the binary. Pages work without it: they show the state when
// they were made, and a reload shows more.
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

  // Live updates come as Server-Sent Events from this server's API (see
  // GET /api/v1/runs/{id}/events and /api/v1/events in the API document).
  // EventSource reconnects on its own when a stream ends; a refused one
  // (too many streams open) is tried again a little later.
  function follow(url, handlers) {
    var es = new EventSource(url);
    Object.keys(handlers).forEach(function (name) {
      es.addEventListener(name, function (ev) { handlers[name](JSON.parse(ev.data), es); });
    });
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) {
        setTimeout(function () { follow(url, handlers); }, 10000);
      }
    };
  }

  function showStatus(el, status) {
    if (el) {
      text(el, status);
      el.className = "status status-" + status;
    }
  }

  // A run page follows its run, and reloads at the end to show results.
  function watchRun(el) {
    if (finalStates[el.dataset.status] || !window.EventSource) {
      return;
    }
    follow("/api/v1/runs/" + encodeURIComponent(el.dataset.runId) + "/events", {
      run: function (run) {
        showStatus(document.getElementById("run-status"), run.status);
        text(document.getElementById("run-status-detail"), run.status_detail || "");
        text(document.getElementById("run-hosts-up"), run.hosts_up);
        text(document.getElementById("run-open-ports"), run.open_ports);
      },
      shards: function (s) {
        text(document.getElementById("run-hosts-found"), s.hosts);
        s.shards.forEach(function (sh) {
          var st = document.getElementById("shard-" + sh.index + "-status");
          if (!st) {
            window.location.reload(); // planned since the page was made
            return;
          }
          showStatus(st, sh.status);
          text(document.getElementById("shard-" + sh.index + "-attempt"), sh.attempt);
          if (sh.status === "scanned" || sh.status === "completed") {
            var bar = document.getElementById("shard-" + sh.index + "-progress");
            if (bar) {
              bar.value = 100;
            }
          }
        });
      },
      progress: function (p) {
        (p.shards || []).forEach(function (sp) {
          var bar = document.getElementById("shard-" + sp.shard_index + "-progress");
          if (bar) {
            bar.value = sp.percent || 0;
            bar.title = (sp.percent || 0).toFixed(1) + "% " + (sp.task || "");
          }
          text(document.getElementById("shard-" + sp.shard_index + "-pct"), (sp.percent || 0).toFixed(1) + "%");
        });
      },
      end: function (run, es) {
        es.close();
        window.location.reload();
      }
    });
  }

  // Tables of runs follow every run's status, and the progress of the
  // unfinished ones; a run started since the page was made is announced.
  // Each stream opens with the newest runs' state, which covers what
  // changed before it listened.
  function watchRuns(tables) {
    if (!window.EventSource) {
      return;
    }
    function rows(id) {
      return document.querySelectorAll('tr[data-run-id="' + Number(id) + '"]');
    }
    var seen = {}; // the change number of each run last shown
    follow("/api/v1/events", {
      run: function (run) {
        if (seen[run.run_id] !== undefined && run.seq <= seen[run.run_id]) {
          return; // a stream's opening state, shown already
        }
        seen[run.run_id] = run.seq;
        var found = rows(run.run_id);
        found.forEach(function (row) {
          showStatus(row.querySelector(".status"), run.status);
          if (finalStates[run.status]) {
            var bar = row.querySelector("progress");
            if (bar) {
              bar.value = 100;
            }
            row.removeAttribute("data-run-id");
          }
        });
        if (found.length === 0 && run.status === "pending" && !document.getElementById("run-" + run.run_id + "-new")) {
          var note = document.createElement("p");
          note.className = "note";
          note.id = "run-" + run.run_id + "-new";
          var a = document.createElement("a");
          a.href = "/runs/" + Number(run.run_id);
          a.textContent = "Run #" + Number(run.run_id);
          note.appendChild(a);
          note.appendChild(document.createTextNode(" has started since this page was loaded."));
          tables[0].parentNode.insertBefore(note, tables[0]);
        }
      },
      progress: function (p) {
        rows(p.run_id).forEach(function (row) {
          var bar = row.querySelector("progress");
          if (bar) {
            bar.value = p.percent || 0;
          }
        });
      }
    });
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
    var tables = document.querySelectorAll("table.live-runs");
    if (tables.length > 0) {
      watchRuns(tables);
    }
    // Exposed for forms built by scripts; forms in pages carry the field.
    window.scantronCSRF = csrf;
  });
})();
