// inhouse upload page: dropping files on the drop zone puts them in the file input.
// The plain file input works without this script.
(function () {
  "use strict";
  var zone = document.getElementById("dropzone");
  var input = document.getElementById("files");
  if (!zone || !input) return;
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
  });
  // A folder's files go up under their path in it (htmx names a file by its base name only).
  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail.elt;
    if (!form || !form.matches || !form.matches("form.upload")) return;
    var data = e.detail.formData;
    data.delete("files");
    [input, document.getElementById("folder")].forEach(function (field) {
      if (!field || !field.files) return;
      Array.prototype.forEach.call(field.files, function (f) { data.append("files", f, f.webkitRelativePath || f.name); });
    });
  });
  // After an htmx upload, clear the chosen files so the next drop starts afresh.
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt && e.detail.elt.matches && e.detail.elt.matches("form.upload") && e.detail.successful) {
      input.value = "";
      var folder = document.getElementById("folder");
      if (folder) folder.value = "";
    }
  });
})();
