// The post editor's panel: "Summarize & translate" submits a job; the panel then asks for its state every two
// seconds and shows the results when the service's webhook has stored them. Nobody waits on a long call.
(function () {
  "use strict";
  var panel = document.getElementById("hns-panel");
  if (!panel) return;
  var button = document.getElementById("hns-run");
  var state = document.getElementById("hns-state");
  var error = document.getElementById("hns-error");

  function call(action) {
    var form = new FormData();
    if (action === "hns_summarize") form.append("source_lang", document.getElementById("hns-lang").value);
    form.append("action", action);
    form.append("post_id", panel.dataset.post);
    form.append("nonce", panel.dataset.nonce);
    return fetch(window.hnsConfig.ajaxUrl, { method: "POST", body: form, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (reply) {
        if (!reply.success) throw new Error(reply.data && reply.data.message ? reply.data.message : "The action failed.");
        return reply.data;
      });
  }

  function show(data) {
    state.textContent = data.words;
    state.dataset.state = data.state;
    ["summary_native", "summary_en", "translation_en"].forEach(function (key) {
      document.getElementById("hns-" + key).textContent = data[key];
    });
    if (data.state === "queued") setTimeout(function () { call("hns_status").then(show).catch(fail); }, 2000);
    else button.disabled = false;
  }

  function fail(e) {
    error.textContent = e.message;
    error.hidden = false;
    button.disabled = false;
  }

  button.addEventListener("click", function () {
    button.disabled = true;
    error.hidden = true;
    call("hns_summarize").then(show).catch(fail);
  });
  if (state.dataset.state === "queued") call("hns_status").then(show).catch(fail); // a job from publishing
})();
