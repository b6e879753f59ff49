// Accord's own behaviour, small on purpose: the pages work without it.
(function () {
  "use strict";

  function closeToast(toast) {
    toast.classList.add("toast--leaving");
    window.setTimeout(function () { toast.remove(); }, 200);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".toast__close");
    if (button) {
      closeToast(button.closest(".toast"));
    }
  });

  // Success and info messages leave by themselves; errors stay until dismissed.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toast:not(.toast--error)").forEach(function (toast) {
      window.setTimeout(function () { closeToast(toast); }, 6000);
    });
  });

  // Escape closes the open user menu and gives focus back to its toggle.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  });
})();
