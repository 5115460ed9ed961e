// Small behaviours the CSP allows (no inline scripts anywhere). Visible text comes
// from data attributes the server rendered through gettext.
document.addEventListener("htmx:sendError", showNetworkError);
document.addEventListener("htmx:responseError", showNetworkError);

function showNetworkError() {
  const box = document.createElement("p");
  box.className = "flash flash-error";
  box.setAttribute("role", "alert");
  box.textContent = document.body.dataset.networkError;
  document.querySelector("main")?.prepend(box);
  setTimeout(() => box.remove(), 8000);
}

// Copy buttons: <button data-copy="text" data-copied="message">; the message goes to
// the nearest .copy-status (a live region) so screen readers hear it too.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const status = button.parentElement.querySelector(".copy-status");
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    if (status) status.textContent = button.dataset.copied;
  } catch {
    // No clipboard (an old browser or an insecure origin): select the text instead.
    const target = button.parentElement.querySelector(".clabe, .reference");
    if (target) window.getSelection().selectAllChildren(target);
  }
});
