/* The dataset version page while a worker imports the upload. */
(function () {
  // Poll the small status endpoint; reload the page once the worker has finished.
  const box = document.getElementById("ingesting");
  const url = box.dataset.statusUrl;
  async function poll() {
    try {
      const r = await fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"});
      if (r.ok) {
        const s = await r.json();
        const pct = Math.round(s.progress * 100);
        document.getElementById("progress-bar").style.width = pct + "%";
        document.getElementById("progress-text").textContent = pct + "%";
        document.getElementById("ingest-note").textContent = s.status_text;
        if (s.done) { window.location.reload(); return; }
      }
    } catch (e) { /* a dropped request: try again at the next tick */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
