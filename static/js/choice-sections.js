// Forms whose sections depend on a radio choice (an audit's type, a sample's population): a
// section marked data-shown-for="<value>" shows only while the radio marked data-choice with
// that value is checked. Without script every section stays visible.
(function () {
  document.querySelectorAll("form").forEach(function (form) {
    const radios = form.querySelectorAll("input[data-choice]");
    if (!radios.length) return;
    function sync() {
      const chosen = form.querySelector("input[data-choice]:checked");
      form.querySelectorAll("[data-shown-for]").forEach(function (section) {
        section.hidden = chosen ? section.dataset.shownFor !== chosen.value : false;
      });
    }
    radios.forEach(function (radio) { radio.addEventListener("change", sync); });
    sync();
  });
})();
