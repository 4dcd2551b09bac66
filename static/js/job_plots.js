/* Live curves of one tuning job: polls metrics.json?after=<last seq> and appends only the new points.
 * The first answer (after=0) of a long job is already downsampled by the server, keeping the shape.
 * Polls every POLL_MS while the job is queued or running; stops once the job has ended, after drawing
 * its last points and results. Plotly comes from our own static files (vendor/plotly). */
(function () {
  "use strict";
  var POLL_MS = 1500;
  var RETRY_MAX_MS = 10000;
  var root = document.getElementById("job-live");
  if (!root || typeof Plotly === "undefined") { return; }
  var url = root.dataset.metricsUrl;

  // Sparse-adapter jobs (adapt = "sparse") plot what a user means by sparsity: how much of the image
  // model stays as it was, and how many of its weights the adapter changes (second axis, right).
  var SPARSITY = root.dataset.adapt === "sparse" ?
    {id: "plot-sparsity", key: "sparsity", title: "Image model left unchanged", y: "weights unchanged", percent: true,
     tickformat: ".2%", second: {key: "params_changed", y: "weights changed", name: "weights changed"}} :
    {id: "plot-sparsity", key: "sparsity", title: "Adapter sparsity (coordinates masked)", y: "sparsity", percent: true,
     range: [0, 1]};
  var PLOTS = [
    {id: "plot-loss", key: "train_loss", title: "Training loss", y: "loss"},
    {id: "plot-val", key: "val_acc", title: "Validation accuracy", y: "accuracy", percent: true, range: [0, 1]},
    {id: "plot-sharpness", key: "sharpness", title: "Sharpness estimate", y: "L(w + ε*) − L(w)"},
    SPARSITY
  ].filter(function (plot) { return document.getElementById(plot.id); });  // the page says why one is missing
  var lastSeq = 0;
  var lastQueries = 0;  // every plot's x-axis runs to the same point, so the curves line up
  var switchAt = null;
  var failures = 0;

  function layout(plot) {
    var spec = {
      title: {text: plot.title, font: {size: 14}, x: 0.01, xanchor: "left"},
      margin: {l: 55, r: plot.second ? 70 : 15, t: 40, b: 40},
      height: 280,
      // No ticks before the first point: an empty axis would show Plotly's made-up -1 to 4. automargin and
      // standoff keep an axis title clear of its tick labels.
      xaxis: {title: {text: "queries", standoff: 6}, rangemode: "tozero", showticklabels: false, automargin: true},
      yaxis: {title: {text: plot.y, standoff: 6}, tickformat: plot.tickformat || (plot.percent ? ".0%" : ""),
              range: plot.range, autorange: plot.range ? false : true, showticklabels: Boolean(plot.range),
              automargin: true},
      showlegend: false,
      shapes: [], annotations: []
    };
    if (plot.second) {
      spec.yaxis2 = {title: {text: plot.second.y, standoff: 6}, overlaying: "y", side: "right", rangemode: "tozero",
                     showticklabels: false, tickformat: ",d", automargin: true};
    }
    return spec;
  }

  // Each plot's series: its main key, and for the sparse-adapter plot the count on the second axis.
  function series(plot) {
    var main = {key: plot.key, axis: "y", format: plot.percent ? "%{y:.2%}" : "%{y}"};
    return plot.second ? [main, {key: plot.second.key, axis: "y2", format: "%{y:,d} " + plot.second.name, dash: "dot"}] : [main];
  }

  PLOTS.forEach(function (plot) {
    var traces = series(plot).map(function (s) {
      return {x: [], y: [], yaxis: s.axis, mode: "lines+markers", marker: {size: 4}, line: {width: 1.5, dash: s.dash},
              hovertemplate: s.format + " at %{x} queries<extra></extra>"};
    });
    Plotly.newPlot(plot.id, traces, layout(plot), {displaylogo: false, responsive: true, displayModeBar: toolbar()});
  });

  // At phone width the toolbar would sit on the plot's title; there a finger zooms the page instead.
  function toolbar() { return window.matchMedia("(max-width: 760px)").matches ? false : "hover"; }

  // Printed, the plots take the page's width (one a row), not the half of the screen they were drawn
  // for; and back afterwards. beforeprint for the print dialog, the media query for print previews.
  function fitToPage() { PLOTS.forEach(function (plot) { Plotly.Plots.resize(plot.id); }); }
  window.addEventListener("beforeprint", fitToPage);
  window.addEventListener("afterprint", fitToPage);
  window.matchMedia("print").addEventListener("change", fitToPage);

  function appendPoints(points) {
    if (!points || !points.seq || points.seq.length === 0) { return; }
    PLOTS.forEach(function (plot) {
      series(plot).forEach(function (s, t) {
        var xs = [], ys = [];
        (points[s.key] || []).forEach(function (value, i) {  // an older server sends no params_changed
          if (value !== null) { xs.push(points.queries[i]); ys.push(value); }
        });
        if (!xs.length) { return; }
        Plotly.extendTraces(plot.id, {x: [xs], y: [ys]}, [t]);
        var shown = {"xaxis.showticklabels": true};
        shown[s.axis === "y" ? "yaxis.showticklabels" : "yaxis2.showticklabels"] = true;
        if (!(plot.drawn || {})[s.axis]) { plot.drawn = plot.drawn || {}; plot.drawn[s.axis] = true; Plotly.relayout(plot.id, shown); }
      });
      if (plot.second) { fitShareAxes(plot); }
    });
    lastSeq = points.seq[points.seq.length - 1];
    var reached = points.queries[points.queries.length - 1];
    if (reached > lastQueries) {
      lastQueries = reached;
      PLOTS.forEach(function (plot) { Plotly.relayout(plot.id, {"xaxis.range": [0, lastQueries], "xaxis.autorange": false}); });
    }
  }

  // The sparse-adapter plot's axes from its data: Plotly's own range for a flat line at 100% unchanged is
  // 0-200%, and for a handful of weights changed it puts ticks at fractions ("0 0 1 1 1").
  function fitShareAxes(plot) {
    var data = document.getElementById(plot.id).data, update = {};
    var unchanged = data[0].y, changed = data[1].y;
    if (unchanged.length) {
      var low = Math.min.apply(null, unchanged), pad = Math.max(0.0005, (1 - low) * 0.2);
      update["yaxis.range"] = [Math.max(0, low - pad), 1 + pad / 10];
      update["yaxis.autorange"] = false;
    }
    if (changed.length) {
      var high = Math.max.apply(null, changed);
      update["yaxis2.range"] = [0, Math.max(4, high * 1.1)];
      update["yaxis2.autorange"] = false;
      // Whole weights only. tickmode is set both ways: a dtick of 1 left behind on a count that has grown
      // to thousands would ask the browser for thousands of ticks.
      update["yaxis2.tickmode"] = high < 8 ? "linear" : "auto";
      update["yaxis2.tick0"] = 0;
      update["yaxis2.dtick"] = high < 8 ? 1 : null;
    }
    Plotly.relayout(plot.id, update);
  }

  function markStageSwitch(queries) {
    if (queries === null || queries === undefined || queries === switchAt) { return; }
    switchAt = queries;
    var note = document.getElementById("stage-switch-note");  // the loss caption speaks of the line once it exists
    if (note) { note.hidden = false; }
    PLOTS.forEach(function (plot) {
      Plotly.relayout(plot.id, {
        shapes: [{type: "line", xref: "x", yref: "paper", x0: queries, x1: queries, y0: 0, y1: 1,
                  line: {color: "#c62828", width: 1.5, dash: "dot"}}],
        annotations: [{x: queries, y: 1, xref: "x", yref: "paper", yanchor: "bottom", showarrow: false,
                       text: "stage 2", font: {size: 11, color: "#c62828"}}]
      });
    });
  }

  function setText(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }

  function pct(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%"; }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "–"; }
    seconds = Math.round(seconds);
    if (seconds < 60) { return seconds + " s"; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) { return minutes + " min " + (seconds % 60) + " s"; }
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  function showStatus(data) {
    var badge = document.getElementById("job-status");
    badge.textContent = data.status_label;
    badge.className = "badge status-" + data.status;
    root.dataset.status = data.status;
    setText("job-status-text", data.status_text);
    setText("job-queries", data.queries_used);
    setText("job-stage", data.stage || "–");
    setText("job-attempts", data.attempts);
    document.querySelector("#job-progress > span").style.width = (data.progress * 100).toFixed(1) + "%";
    var error = document.getElementById("job-error"), note = document.getElementById("job-note");
    error.hidden = !(data.status === "failed" && data.error);
    note.hidden = !(data.status !== "failed" && data.error);
    error.textContent = data.status === "failed" ? data.error : "";
    note.textContent = data.status !== "failed" ? data.error : "";
    var cancel = document.getElementById("cancel-form");
    if (cancel && data.finished) { cancel.hidden = true; }
    if (data.finished) {  // "is stopping" and the like are no longer true
      document.querySelectorAll(".flash.until-job-ends").forEach(function (el) { el.hidden = true; });
    }
    if (cancel) {  // a page opened while the job was queued: "Stop and keep the best adapter" once it runs
      var button = document.getElementById("cancel-button");
      var state = data.status === "queued" ? "queued" : "running";
      button.textContent = button.dataset["label" + (state === "queued" ? "Queued" : "Running")];
      button.dataset.confirm = button.dataset["confirm" + (state === "queued" ? "Queued" : "Running")];
      if (data.cancel_requested) { button.disabled = true; }
    }
  }

  function cell(tag, text) { var el = document.createElement(tag); el.textContent = text; return el; }

  function evaluationTables(evaluation) {
    var box = document.getElementById("evaluation-detail");
    box.replaceChildren();
    if (!evaluation || !evaluation.class_names) { return; }
    var names = evaluation.class_names;
    var table = document.createElement("table");
    table.className = "grid compact";
    var head = document.createElement("tr");
    ["Class", "Zero-shot", "Tuned"].forEach(function (t) { head.appendChild(cell("th", t)); });
    table.appendChild(head);
    names.forEach(function (name) {
      var row = document.createElement("tr");
      row.appendChild(cell("td", name));
      row.appendChild(cell("td", pct((evaluation.zero_shot || {}).per_class_accuracy[name])));
      row.appendChild(cell("td", pct((evaluation.tuned || {}).per_class_accuracy[name])));
      table.appendChild(row);
    });
    box.appendChild(cell("h3", "Accuracy per class"));
    box.appendChild(table);
    [["zero_shot", "Confusion matrix, zero-shot"], ["tuned", "Confusion matrix, tuned"]].forEach(function (pair) {
      var matrix = (evaluation[pair[0]] || {}).confusion;
      if (!matrix) { return; }
      var t = document.createElement("table");
      t.className = "grid compact confusion";
      var h = document.createElement("tr");
      h.appendChild(cell("th", "true \\ predicted"));
      names.forEach(function (n) { h.appendChild(cell("th", n)); });
      t.appendChild(h);
      matrix.forEach(function (counts, i) {
        var r = document.createElement("tr");
        r.appendChild(cell("th", names[i]));
        counts.forEach(function (n, j) { var c = cell("td", n); if (i === j) { c.className = "diag"; } r.appendChild(c); });
        t.appendChild(r);
      });
      box.appendChild(cell("h3", pair[1]));
      box.appendChild(t);
    });
  }

  function withInterval(quality, key, fallback) {
    // same words as the formatting filters (webapp/core/templatetags): "83.1% (95% interval 75.0–89.0%) on 120 test images"
    if (!quality || quality[key] === null || quality[key] === undefined) { return pct(fallback); }
    var text = (100 * quality[key]).toFixed(1) + "%";
    var ci = quality[key + "_interval"];
    if (ci) { text += " (95% interval " + (100 * ci[0]).toFixed(1) + "–" + (100 * ci[1]).toFixed(1) + "%)"; }
    if (quality.images) { text += " on " + quality.images + " test images"; }
    return text;
  }

  function link(id, href, text) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.hidden = !href;
    if (href) { el.href = href; }
    if (text) { el.textContent = text; }
  }

  function showLinks(results) {
    var links = results.links || {};
    link("link-report", links.report);
    link("link-adapter", links.adapter_version, "Adapter " + results.adapter_version);
    link("link-download", links.adapter_archive);
    var verdict = document.getElementById("download-verdict");  // not one to deploy: said, and the button steps back
    if (verdict) {
      verdict.textContent = results.download_verdict || "";
      verdict.hidden = !results.download_verdict;
      document.getElementById("link-download").classList.toggle("secondary", Boolean(results.download_verdict));
    }
    link("link-dataset", links.dataset_version);
  }

  function showResults(results) {
    if (!results) { return; }
    document.getElementById("job-results").hidden = false;
    var q = results.quality || {};
    setText("zero-shot-acc", withInterval(q.zero_shot_test, "accuracy", results.zero_shot_accuracy));
    setText("tuned-acc", withInterval(q.tuned_test, "accuracy", results.tuned_accuracy));
    setText("zero-shot-bacc", withInterval(q.zero_shot_test, "balanced_accuracy", null));
    setText("tuned-bacc", withInterval(q.tuned_test, "balanced_accuracy", null));
    var notBetter = document.getElementById("not-better");
    if (notBetter && q.better_than_zero_shot === false) {
      notBetter.textContent = (q.validation || {}).sentence || "Tuning did not beat the zero-shot model on validation.";
      notBetter.hidden = false;
    }
    setText("best-val-acc", pct(results.best_val_accuracy));
    setText("result-queries", results.queries_used);
    setText("result-cost", duration(results.worker_seconds) + " · " + results.cost.toFixed(2) + " " + results.currency);
    setText("result-memory", results.peak_memory_bytes ? Math.round(results.peak_memory_bytes / 1048576) + " MiB" : "–");
    setText("result-adapter", results.adapter_version || "none (no adapter was produced)");
    showLinks(results);
    evaluationTables(results.evaluation);
  }

  // A browser notification when the job ends while this page is open (the e-mail goes out anyway).
  var notifyBox = document.getElementById("notify");
  var notifyWanted = false;
  function notifyState() {
    var permission = window.Notification.permission;
    notifyWanted = permission === "granted";
    setText("notify-state", permission === "granted" ? "You will get a notification when this job ends." :
      permission === "denied" ? "Notifications are blocked for this site in your browser settings." : "");
    document.getElementById("notify-button").hidden = permission !== "default";
  }
  if (notifyBox && "Notification" in window) {
    notifyBox.hidden = false;
    notifyState();
    document.getElementById("notify-button").addEventListener("click", function () {
      window.Notification.requestPermission().then(notifyState);
    });
  }
  function notifyEnd(data) {
    if (!notifyWanted || window.Notification.permission !== "granted") { return; }
    var title = document.querySelector("h1").textContent + ": " + data.status_label;
    new window.Notification(title, {body: data.error || data.status_text || "", tag: "job-" + data.id});
  }

  function poll() {
    fetch(url + "?after=" + lastSeq, {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          var refused = new Error("HTTP " + response.status);
          // 503 (the database is away) says how long to wait: Retry-After, in seconds.
          refused.retryAfterMs = (parseInt(response.headers.get("Retry-After"), 10) || 0) * 1000;
          throw refused;
        }
        return response.json();
      })
      .then(function (data) {
        failures = 0;
        setText("poll-note", "");
        appendPoints(data.points);
        if (data.downsampled) { document.getElementById("curves-shaped").hidden = false; }
        markStageSwitch(data.stage_switch_queries);
        showStatus(data);
        if (data.finished) {
          showResults(data.results);
          if (root.dataset.finished !== "true") { notifyEnd(data); }
          if (notifyBox) { notifyBox.hidden = true; }  // nothing left to be notified of
          root.dataset.finished = "true";
          return;  // done: no more polling
        }
        window.setTimeout(poll, POLL_MS);
      })
      .catch(function (problem) {
        failures += 1;
        // Quietly: a pause of the server is no news until it lasts, and the page keeps what it has drawn.
        if (failures >= 3) { setText("poll-note", " · waiting for the server; this page updates again when it answers"); }
        var backoff = Math.min(RETRY_MAX_MS, POLL_MS * Math.pow(2, failures));
        window.setTimeout(poll, Math.max(backoff, Math.min((problem && problem.retryAfterMs) || 0, 60000)));
      });
  }

  poll();
})();
