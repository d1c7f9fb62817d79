// Every form that changes something carries
// - an idempotency key made when the page was shown: a double click or a resubmitted page is answered
//   once (agency_common.idempotency); a new page gets a new key;
// - the session's CSRF token (agency_common.web.csrf), as its first field, so that the server finds it
//   before an upload's file; htmx requests carry it as the X-CSRF-Token header.
(function () {
  function csrfToken() {
    const meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // crypto.randomUUID needs https
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }
  function hidden(name, value) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }
  function keyForms(root) {
    const token = csrfToken();
    root.querySelectorAll("form").forEach(function (form) {
      if ((form.getAttribute("method") || "get").toLowerCase() !== "post") return;
      if (token && !form.querySelector("input[name=csrf_token]")) form.prepend(hidden("csrf_token", token));
      if (!form.querySelector("input[name=idempotency_key]")) form.appendChild(hidden("idempotency_key", newKey()));
    });
  }
  document.addEventListener("DOMContentLoaded", function () { keyForms(document); });
  document.addEventListener("htmx:load", function (event) { keyForms(event.target); });
  document.addEventListener("htmx:configRequest", function (event) {
    const token = csrfToken();
    if (token) event.detail.headers["X-CSRF-Token"] = token;
  });
})();
