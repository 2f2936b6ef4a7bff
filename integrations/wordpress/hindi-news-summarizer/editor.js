// The post editor's "Summarize & translate" button: calls the plugin's admin-ajax action, shows the results.
(function () {
  "use strict";
  var panel = document.getElementById("hns-panel");
  if (!panel) return;
  var button = document.getElementById("hns-run");
  var status = document.getElementById("hns-status");
  var error = document.getElementById("hns-error");
  button.addEventListener("click", function () {
    button.disabled = true;
    error.hidden = true;
    status.textContent = "Working…";
    var form = new FormData();
    form.append("action", "hns_summarize");
    form.append("post_id", panel.dataset.post);
    form.append("nonce", panel.dataset.nonce);
    fetch(window.hnsConfig.ajaxUrl, { method: "POST", body: form, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        if (!reply.success) throw new Error(reply.data && reply.data.message ? reply.data.message : "The action failed.");
        ["summary_hi", "summary_en", "translation_en"].forEach(function (key) {
          document.getElementById("hns-" + key).textContent = reply.data[key];
        });
        status.textContent = "Done.";
      })
      .catch(function (e) {
        error.textContent = e.message;
        error.hidden = false;
        status.textContent = "";
      })
      .finally(function () { button.disabled = false; });
  });
})();
