// Every form that changes something carries an idempotency key made when the page was shown: a double
// click or a resubmitted page is answered once (agency_common.idempotency); a new page gets a new key.
(function () {
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // crypto.randomUUID needs https
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function keyForms(root) {
    root.querySelectorAll("form").forEach(function (form) {
      if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
      if (form.querySelector("input[name=idempotency_key]")) return;
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = "idempotency_key";
      input.value = newKey();
      form.appendChild(input);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { keyForms(document); });
  document.addEventListener("htmx:load", function (event) { keyForms(event.target); });
})();
