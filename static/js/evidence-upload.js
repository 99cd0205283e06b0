// Evidence upload: drag and drop onto the file input's zone, list what was chosen, and
// show progress while the browser sends the files. The plain file input works without it.
(function () {
  const form = document.getElementById("evidence-upload");
  if (!form) return;
  const zone = form.querySelector("[data-dropzone]");
  const input = form.querySelector("input[type=file]");
  const list = form.querySelector("[data-file-list]");
  const button = form.querySelector("[data-submit]");

  function showFiles() {
    list.replaceChildren(...Array.from(input.files).map((file) => {
      const li = document.createElement("li");
      li.textContent = `${file.name} — ${(file.size / 1048576).toFixed(2)} MB`;
      return li;
    }));
  }
  input.addEventListener("change", showFiles);
  ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
    event.preventDefault();
    zone.classList.add("border-primary");
  }));
  ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("border-primary")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    input.files = event.dataTransfer.files;
    showFiles();
  });
  form.addEventListener("submit", () => {
    button.disabled = true;
    button.querySelector(".spinner-border").classList.remove("d-none");
    button.lastChild.textContent = " Uploading…";
  });
})();
