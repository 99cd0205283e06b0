// Small behaviours any page can ask for with a data attribute, instead of inline handlers
// (the Content-Security-Policy runs no onclick="..." or javascript: code).
//   data-select-on-focus: a read-only field whose whole value is selected on focus, for copying.
document.addEventListener("focusin", function (event) {
  if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
});
