/* The launch form's estimate: asks estimate.json again whenever dataset, backbone, method or budget change. */
(function () {
  "use strict";
  var form = document.getElementById("job-form");
  if (!form) { return; }
  var url = form.dataset.estimateUrl;
  var text = document.getElementById("estimate-text");
  var basis = document.getElementById("estimate-basis");
  var timer = null;
  var asked = 0;

  function update() {
    var params = new URLSearchParams({
      budget: form.elements.budget.value.trim(),
      backbone: form.elements.backbone.value,
      method: form.elements.method ? form.elements.method.value : "",
      dataset_version: form.elements.dataset_version ? form.elements.dataset_version.value : ""
    });
    var ticket = ++asked;  // only the answer to the latest question is shown
    fetch(url + "?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (ticket !== asked) { return; }
        text.textContent = data.error ? data.error : data.text;
        basis.textContent = data.error ? "" : data.basis;
      })
      .catch(function () { if (ticket === asked) { text.textContent = "no estimate (the server did not answer)"; } });
  }

  function soon() { window.clearTimeout(timer); timer = window.setTimeout(update, 250); }

  ["budget", "backbone", "method", "dataset_version"].forEach(function (name) {
    var field = form.elements[name];
    if (field) { field.addEventListener("input", soon); field.addEventListener("change", soon); }
  });
  update();
})();
