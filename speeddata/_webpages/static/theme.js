// The pages' theme (the registry's page, the stripchart dashboard): light or dark as the
// system prefers (prefers-color-scheme, followed live by theme.css), unless the visitor chose
// one with the #theme-toggle button (kept in localStorage). Loaded in <head>, so a stored
// choice applies before the page is drawn and it does not flash the other theme first.
(function () {
  var KEY = "speeddata-theme";
  var root = document.documentElement;
  var system = window.matchMedia("(prefers-color-scheme: dark)");
  try {
    var chosen = localStorage.getItem(KEY);
    if (chosen === "light" || chosen === "dark") root.dataset.theme = chosen;
  } catch (e) {
    // storage refused (private mode): the system's theme applies
  }

  function current() {
    return root.dataset.theme || (system.matches ? "dark" : "light");
  }

  function show(button) {
    var other = current() === "dark" ? "light" : "dark";
    button.textContent = other === "dark" ? "Dark theme" : "Light theme";
    button.setAttribute("aria-label", "Switch to the " + other + " theme");
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("theme-toggle");
    if (!button) return;
    button.addEventListener("click", function () {
      var next = current() === "dark" ? "light" : "dark";
      root.dataset.theme = next;
      try {
        localStorage.setItem(KEY, next);
      } catch (e) {
        // not stored: this page view keeps it
      }
      show(button);
    });
    system.addEventListener("change", function () {
      show(button);
    });
    show(button);
  });
})();
