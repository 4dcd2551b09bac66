/* The launch form's estimate: asks estimate.json again whenever dataset, backbone, method, budget or what to
 * adapt change. A time budget in minutes, while given, sets the budget in queries to what fits in it (the
 * server does the same conversion on launch); typing a budget in queries clears it. "What to adapt" shows only for the methods that can tune sparse adapters, and the share of
 * the image model's weights only for sparse adapters (the server refuses other combinations in words). */
(function () {
  "use strict";
  var form = document.getElementById("job-form");
  if (!form) { return; }
  var url = form.dataset.estimateUrl;
  var text = document.getElementById("estimate-text");
  var basis = document.getElementById("estimate-basis");
  var weights = document.getElementById("param-budget-count");
  var sparseMethods = (form.dataset.sparseMethods || "").split(",");
  var timer = null;
  var asked = 0;

  function value(name) { return form.elements[name] ? form.elements[name].value : ""; }

  function show(name, visible) {
    var label = document.getElementById("field-" + name);
    if (label) { label.hidden = !visible; }
  }

  function showAdaptFields() {
    var canAdapt = sparseMethods.indexOf(value("method")) !== -1;
    if (!canAdapt && form.elements.adapt && value("adapt") !== "prompt") { form.elements.adapt.value = "prompt"; }
    show("adapt", canAdapt);
    show("param_budget", canAdapt && value("adapt") === "sparse");
  }

  function update() {
    var minutes = value("budget_minutes").trim();
    var params = new URLSearchParams({
      budget: form.elements.budget.value.trim(),
      minutes: minutes,
      backbone: form.elements.backbone.value,
      method: value("method"),
      dataset_version: value("dataset_version"),
      adapt: value("adapt"),
      param_budget: value("param_budget"),
      shots: value("shots")
    });
    var ticket = ++asked;  // only the answer to the latest question is shown
    fetch(url + "?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (ticket !== asked) { return; }
        text.textContent = data.error ? data.error : data.text;
        if (minutes && !data.error) { form.elements.budget.value = data.budget; }
        basis.textContent = data.error ? "" : data.basis;
        if (weights) { weights.textContent = data.error ? "" : data.image_weights; }
        ["shots", "budget"].forEach(function (name) {  // the real bounds for this dataset and method
          var bound = document.getElementById("bounds-" + name);
          if (bound) { bound.textContent = data.error || !data.bounds ? "" : data.bounds[name]; }
        });
      })
      .catch(function () { if (ticket === asked) { text.textContent = "no estimate (the server did not answer)"; } });
  }

  function soon() { showAdaptFields(); window.clearTimeout(timer); timer = window.setTimeout(update, 250); }

  if (form.elements.budget_minutes) {
    form.elements.budget.addEventListener("input", function () { form.elements.budget_minutes.value = ""; });
  }
  ["budget", "budget_minutes", "backbone", "method", "dataset_version", "adapt", "param_budget", "shots"].forEach(function (name) {
    var field = form.elements[name];
    if (field) { field.addEventListener("input", soon); field.addEventListener("change", soon); }
  });
  showAdaptFields();
  update();
})();
