// Runs before the page is drawn: a theme the visitor chose (stored) wins over the system's
// prefers-color-scheme, so the page does not flash the other theme first.
(function () {
  try {
    var chosen = localStorage.getItem("speeddata-theme");
    if (chosen === "light" || chosen === "dark") {
      document.documentElement.dataset.theme = chosen;
    }
  } catch (e) {
    // storage refused (private mode): the system's theme applies
  }
})();
