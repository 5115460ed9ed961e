// Incident forms: keep every photo taken, share the phone's position when asked,
// check sizes before sending, and show upload progress. No inline script (CSP).
(function () {
  "use strict";
  const kept = new WeakMap();

  function sameFile(a, b) {
    return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
  }

  // A `capture` input takes one photo at a time: keep the earlier ones too.
  document.addEventListener("change", (event) => {
    const input = event.target.closest && event.target.closest("input[type=file][data-accumulate]");
    if (!input || typeof DataTransfer === "undefined") return;
    const files = kept.get(input) || new DataTransfer();
    for (const file of input.files) {
      if (![...files.files].some((k) => sameFile(k, file))) files.items.add(file);
    }
    kept.set(input, files);
    input.files = files.files;
    showChosen(input.form);
  });

  function chosenFiles(form) {
    return [...form.querySelectorAll("input[type=file]")].flatMap((i) => [...i.files]);
  }

  function showChosen(form) {
    const list = form.querySelector("[data-file-list]");
    if (!list) return;
    list.replaceChildren(
      ...chosenFiles(form).map((file) => {
        const item = document.createElement("li");
        const size = file.size < 1048576
          ? `${Math.max(1, Math.round(file.size / 1024))} kB`
          : `${(file.size / 1048576).toFixed(1)} MB`;
        item.textContent = `${file.name} (${size})`;
        return item;
      })
    );
    checkFiles(form);
  }

  function checkFiles(form) {
    const box = form.querySelector("[data-upload-error]");
    const maxBytes = Number(form.dataset.maxBytes);
    const files = chosenFiles(form);
    let message = "";
    if (files.length > Number(form.dataset.maxFiles)) message = form.dataset.tooMany;
    const big = files.find((f) => f.size > maxBytes);
    if (big) message = form.dataset.tooLarge.replace("{name}", big.name);
    if (box) box.textContent = message;
    return !message;
  }

  // Refuse too large or too many files before spending the driver's mobile data.
  document.addEventListener("htmx:confirm", (event) => {
    const form = event.detail.elt;
    if (form.matches && form.matches("form.upload-form") && !checkFiles(form)) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:xhr:progress", (event) => {
    const form = event.target.closest && event.target.closest("form.upload-form");
    if (!form || !event.detail.lengthComputable) return;
    const box = form.querySelector(".upload-progress");
    const bar = box && box.querySelector("progress");
    if (!bar) return;
    box.hidden = false;
    const percent = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.value = percent;
    bar.textContent = `${percent}%`;
  });

  // A body over the server's limit answers 413: say so next to the files, not as a
  // network error.
  document.addEventListener(
    "htmx:responseError",
    (event) => {
      const form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form.upload-form");
      if (!form || event.detail.xhr.status !== 413) return;
      event.stopImmediatePropagation();
      const box = form.querySelector("[data-upload-error]");
      if (box) box.textContent = form.dataset.requestTooLarge;
      const progress = form.querySelector(".upload-progress");
      if (progress) progress.hidden = true;
    },
    true
  );

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("[data-geolocate]");
    if (!button) return;
    const field = button.closest(".field");
    const status = field.querySelector("[data-location-status]");
    if (!("geolocation" in navigator)) {
      status.textContent = button.dataset.failed;
      return;
    }
    status.textContent = button.dataset.waiting;
    navigator.geolocation.getCurrentPosition(
      (position) => {
        field.querySelector("[data-latitude]").value = position.coords.latitude.toFixed(6);
        field.querySelector("[data-longitude]").value = position.coords.longitude.toFixed(6);
        field.querySelector("[data-position-source]").value = "phone";
        status.textContent = button.dataset.found.replace(
          "{metres}",
          String(Math.round(position.coords.accuracy))
        );
      },
      () => {
        status.textContent = button.dataset.failed;
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
    );
  });
})();
