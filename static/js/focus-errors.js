// A form below the fold that failed to save (marked data-focus-errors): take the user to the
// first field to fix, or to the form itself.
(function () {
  const form = document.querySelector("[data-focus-errors]");
  if (!form) return;
  const field = form.querySelector(".is-invalid") || form;
  field.scrollIntoView({ block: "center" });
  if (field.focus) field.focus();
})();
