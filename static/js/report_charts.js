/* Charts of the manager reports. Each page puts its data in a json_script element and calls one
   function here; Plotly is served from our own static files (no CDN). The tables beside the charts
   carry the same numbers, so a report stays readable without JavaScript and when printed. */
(function () {
  "use strict";

  const CONFIG = { displaylogo: false, displayModeBar: false, responsive: true };  // a report, not a workbench
  const LAYOUT = { margin: { t: 40, r: 20, b: 60, l: 60 }, font: { size: 13 }, height: 360 };

  function data(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  // Plotly renders a subset of HTML in every label (<a href> becomes a live link), and class, job and
  // method names are typed by users: pass them as text. Plotly shows these entities as the characters.
  const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };
  function text(value) {
    return String(value).replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
  }

  // One colour per method on every chart of a report: a method is the same colour in the scatter and in
  // the curves. Methods not listed (a newer one) take a colour from their name, the same every time.
  const METHOD_COLORS = { sharpzo: "#1f6feb", cmaes: "#e8590c", zosgd: "#2f9e44", coop: "#862e9c",
                          linear_probe: "#c2255c", tip_adapter: "#0c8599", zeroshot: "#868e96" };
  const SPARE_COLORS = ["#5c940d", "#364fc7", "#a61e4d", "#e67700", "#087f5b"];
  function methodColor(method) {
    if (METHOD_COLORS[method]) return METHOD_COLORS[method];
    let sum = 0;
    for (const ch of String(method)) sum += ch.charCodeAt(0);
    return SPARE_COLORS[sum % SPARE_COLORS.length];
  }
  const DASHES = ["solid", "dash", "dot", "dashdot"];  // several jobs of one method: one colour, told apart by dash

  function pct(values) {
    return values.map((v) => (v === null || v === undefined ? null : 100 * v));
  }

  function draw(id, traces, layout) {
    const element = document.getElementById(id);
    if (!element || !window.Plotly) return;
    Plotly.newPlot(element, traces, Object.assign({}, LAYOUT, layout), CONFIG);
    element.dataset.drawn = "true"; // tests and print styles can tell a drawn chart from an empty box
  }

  function confusion(id, matrix, names, title) {
    if (!matrix || !matrix.length) return;
    names = names.map(text);
    draw(id, [{
      type: "heatmap", z: matrix.slice().reverse(), x: names, y: names.slice().reverse(),
      colorscale: "Blues", reversescale: true, showscale: false, texttemplate: "%{z}", hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>",
    }], { title: { text: title }, xaxis: { title: { text: "predicted" }, automargin: true },
          yaxis: { title: { text: "true class" }, automargin: true } });  // long class names push the margin out, never get cut
  }

  function evaluation(id) {
    const d = data(id);
    if (!d) return;
    const names = d.class_names.map(text);
    draw("chart-per-class", [
      { type: "bar", name: "zero-shot", x: names, y: pct(d.zero_shot), marker: { color: "#9aa7b8" } },
      { type: "bar", name: "tuned", x: names, y: pct(d.tuned), marker: { color: "#1f6feb" } },
    ], { title: { text: "Accuracy per class (%)" }, barmode: "group", yaxis: { range: [0, 100] }, xaxis: { automargin: true } });
    confusion("chart-confusion-zero-shot", d.confusion_zero_shot, d.class_names, "Zero-shot");
    confusion("chart-confusion-tuned", d.confusion_tuned, d.class_names, "Tuned");
  }

  function scatter(id) {
    const d = data(id);
    if (!d) return;
    const byMethod = {};
    d.points.filter((p) => p.tuned !== null && p.cost !== null).forEach((p) => {
      (byMethod[p.method] = byMethod[p.method] || []).push(p);
    });
    const traces = Object.keys(byMethod).sort().map((method) => ({
      type: "scatter", mode: "markers+text", textposition: "top center", textfont: { size: 11 },
      name: text(method), marker: { size: 10, color: methodColor(method) },
      x: byMethod[method].map((p) => p.cost), y: byMethod[method].map((p) => 100 * p.tuned),
      text: byMethod[method].map((p) => text(p.label)), customdata: byMethod[method].map((p) => p.url),
      hovertemplate: "%{text}<br>%{y:.1f}% for %{x:.2f} " + d.currency + "<extra>%{fullData.name}</extra>",
    }));
    draw("chart-scatter", traces, {
      title: { text: "Cost vs tuned accuracy" },
      xaxis: { title: { text: "estimated cost (" + d.currency + ")" }, rangemode: "tozero" },
      yaxis: { title: { text: "tuned accuracy (%)" }, range: [0, 100] },
    });
    const element = document.getElementById("chart-scatter");
    if (element && element.on) {
      element.on("plotly_click", (event) => { window.location = event.points[0].customdata; });
    }
  }

  // The selected jobs of a comparison: learning curves overlaid, per-class recall side by side.
  function selected(id) {
    const d = data(id);
    if (!d) return;
    const longest = Math.max(1, ...d.curves.filter((c) => c.uses_queries).map((c) => Math.max(0, ...c.queries)));
    const seen = {};
    draw("chart-curves", d.curves.map((c) => {
      seen[c.method] = (seen[c.method] || 0) + 1;
      const dash = DASHES[(seen[c.method] - 1) % DASHES.length];
      const line = { color: methodColor(c.method), dash: dash, width: 1.5 };
      if (!c.uses_queries) {  // no queries: its points share one x; a level line at its best, across the chart
        const best = Math.max(0, ...c.val_acc.filter((v) => v !== null));
        return { type: "scatter", mode: "lines", name: text(c.label) + " (no queries: its best)",
                 x: [0, longest], y: pct([best, best]), line: Object.assign(line, { dash: "dot" }) };
      }
      return { type: "scatter", mode: "lines+markers", name: text(c.label), x: c.queries, y: pct(c.val_acc),
               connectgaps: true, marker: { size: 4, color: line.color }, line: line };
    }), {
      title: { text: "Validation accuracy while tuning" }, showlegend: true, legend: { orientation: "h", y: -0.3 },
      xaxis: { title: { text: "queries" }, rangemode: "tozero" }, yaxis: { title: { text: "%" }, range: [0, 100] },
      height: 420,
    });
    const names = d.recall.rows.map((row) => text(row.name));
    draw("chart-recall", d.recall.jobs.map((label, j) => ({
      type: "bar", name: text(label), x: names, y: pct(d.recall.rows.map((row) => row.recalls[j])),
    })), {
      title: { text: "Recall per class (%)" }, barmode: "group", showlegend: true, legend: { orientation: "h", y: -0.3 },
      yaxis: { range: [0, 100] }, xaxis: { automargin: true }, height: 420,
    });
  }

  function overview(id) {
    const d = data(id);
    if (!d) return;
    draw("chart-spend", [{ type: "bar", x: d.spend.days, y: d.spend.cost, marker: { color: "#1f6feb" } }],
      { yaxis: { title: { text: d.spend.currency } }, xaxis: { type: "category" }, height: 280 });  // one bar per day that had spend
  }

  // A printed page is narrower than the screen the charts were drawn for: fit them to it, and back.
  function resizeAll() {
    document.querySelectorAll('[data-drawn="true"]').forEach((element) => Plotly.Plots.resize(element));
  }
  window.addEventListener("beforeprint", resizeAll);
  window.addEventListener("afterprint", resizeAll);
  window.matchMedia("print").addEventListener("change", resizeAll);

  window.ReportCharts = { evaluation: evaluation, scatter: scatter, selected: selected, overview: overview };
  // The page says what to draw on this script's own tag: no inline script (Content-Security-Policy).
  // Several drawings are space-separated, each with its data element in data-source at the same place.
  const me = document.currentScript;
  if (me && me.dataset.draw) {
    const sources = (me.dataset.source || "").split(" ");
    me.dataset.draw.split(" ").forEach((name, i) => window.ReportCharts[name](sources[i]));
  }
})();
