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
