// caredesk's small behaviours. No inline scripts anywhere: the CSP forbids them.
document.addEventListener("DOMContentLoaded", () => {
  // Confirm buttons: <button data-confirm="Really?">
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
});
