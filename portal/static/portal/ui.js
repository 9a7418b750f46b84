// Small progressive enhancements for every page; the portal works without them.
// Loaded from base.html as a static file (the Content-Security-Policy forbids inline scripts).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Phones: the main navigation folds behind a "Menu" button.
  function setUpNavToggle() {
    var button = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }

  // Anything that takes time (run now, restore, import): once submitted, the
  // button says so and cannot be pressed twice. The text comes from the
  // template (data-busy) so it is translated.
  function setUpBusyButtons() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement) || event.defaultPrevented) return;
      var button = event.submitter && event.submitter.dataset.busy !== undefined
        ? event.submitter : form.querySelector("button[data-busy]");
      if (!button) return;
      // Disable after the browser has collected the form data, so the button's own name/value is still sent.
      window.setTimeout(function () {
        button.disabled = true;
        button.setAttribute("aria-busy", "true");
        button.textContent = button.dataset.busy;
        form.setAttribute("aria-busy", "true");
      }, 0);
    });
    // Coming back with the browser's back button must not leave a dead button.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      document.querySelectorAll("button[aria-busy=true]").forEach(function (button) {
        button.disabled = false;
        button.removeAttribute("aria-busy");
        if (button.dataset.label) button.textContent = button.dataset.label;
      });
    });
    document.querySelectorAll("button[data-busy]").forEach(function (button) {
      button.dataset.label = button.textContent;
    });
  }

  // The language switch acts as soon as a language is chosen; its button is for pages without script.
  function setUpLanguageSwitch() {
    var select = document.getElementById("lang-select");
    if (!select) return;
    select.addEventListener("change", function () { select.form.submit(); });
  }

  // A menu that folds out ("More", the account) closes when one clicks elsewhere or presses Escape.
  function setUpFoldOutMenus() {
    var menus = document.querySelectorAll("details.nav-more, details.account");
    function closeAll(except) {
      menus.forEach(function (menu) { if (menu !== except) menu.open = false; });
    }
    document.addEventListener("click", function (event) {
      closeAll(event.target.closest("details.nav-more, details.account"));
    });
    document.addEventListener("keydown", function (event) { if (event.key === "Escape") closeAll(null); });
  }

  function start() {
    setUpNavToggle();
    setUpLanguageSwitch();
    setUpFoldOutMenus();
    setUpBusyButtons();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
