/* Small behaviours of every page, bound here because the Content-Security-Policy allows no inline
   handlers: data-print (a print button), data-autosubmit (a select that submits its form),
   data-confirm (a button that asks first), data-menu-toggle (the folded navigation at phone width),
   data-focus-on-load (an error summary that takes the focus),
   data-reload-after (seconds until the page reloads while
   a worker is busy: a meta refresh does nothing on a URL with a #fragment). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    const fix = event.target.closest(".error-summary a[href^='#']");
    const field = fix && document.getElementById(fix.getAttribute("href").slice(1));
    if (field) { event.preventDefault(); field.focus(); field.scrollIntoView({block: "center"}); return; }
    const target = event.target.closest("[data-print], [data-confirm], [data-menu-toggle]");
    if (!target) return;
    if (target.hasAttribute("data-menu-toggle")) {
      const open = target.getAttribute("aria-expanded") !== "true";
      target.setAttribute("aria-expanded", String(open));
      target.closest(".topbar").classList.toggle("menu-open", open);
    } else if (target.hasAttribute("data-print")) window.print();
    else if (!window.confirm(target.dataset.confirm)) event.preventDefault();
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) event.target.form.submit();
  });
  // An error summary takes the focus, so the page shows it (and a screen reader reads it) first.
  // Once more after load: going to the page's #fragment moves the focus back to the page itself.
  const summary = document.querySelector("[data-focus-on-load]");
  function focusSummary() {
    const now = document.activeElement;
    if (now && now !== document.body) return;  // already there, or the reader has moved on
    summary.focus();
    summary.scrollIntoView({block: "start"});
  }
  if (summary) {
    focusSummary();
    window.addEventListener("load", function () { window.setTimeout(focusSummary, 0); });
  }
  const reload = document.querySelector("[data-reload-after]");
  if (reload) window.setTimeout(function () { window.location.reload(); }, 1000 * Number(reload.dataset.reloadAfter));
})();
