/* Small behaviours of every page, bound here because the Content-Security-Policy allows no inline
   handlers: data-print (a print button), data-autosubmit (a select that submits its form),
   data-confirm (a button that asks first), data-menu-toggle (the folded navigation at phone width),
   data-reload-after (seconds until the page reloads while
   a worker is busy: a meta refresh does nothing on a URL with a #fragment). */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
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
  const reload = document.querySelector("[data-reload-after]");
  if (reload) window.setTimeout(function () { window.location.reload(); }, 1000 * Number(reload.dataset.reloadAfter));
})();
