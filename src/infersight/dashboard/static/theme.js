// Applies the saved (or the system's) theme before the page paints.
(function () {
  var saved = null;
  try { saved = localStorage.getItem("infersight.theme"); } catch (e) { /* private mode */ }
  var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  document.documentElement.dataset.theme = saved || (dark ? "dark" : "light");
})();
