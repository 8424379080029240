// inhouse: the little the pages need beyond htmx. Everything works without it.
(function () {
  "use strict";
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.matches && form.matches("form.ask") && e.detail.successful) {
      form.querySelector("textarea").value = "";
      form.dataset.state = "ready";
    }
  });
  document.addEventListener("htmx:beforeRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.matches && form.matches("form.ask")) form.dataset.state = "sending";
  });
  // Ctrl/Cmd+Enter sends the question; Enter alone makes a new line.
  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "question") {
      e.preventDefault();
      e.target.form.requestSubmit();
    }
  });
  // Keep the newest turn in view while it streams.
  document.addEventListener("htmx:sseMessage", function (e) {
    var turn = e.target.closest && e.target.closest("[data-turn]");
    if (turn) {
      var status = turn.querySelector(".status");
      if (status && status.dataset.state === "pending") status.dataset.state = "streaming";
      turn.scrollIntoView({ block: "end", behavior: "smooth" });
    }
  });
})();
