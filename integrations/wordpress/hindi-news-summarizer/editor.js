// The post editor's panel: "Summarize & translate" submits a job; the panel then asks for its state every two
// seconds and shows the results when the service's webhook has stored them. Nobody waits on a long call. The
// service's checks are shown as "needs review" with their findings; a held result is stored when "Accept" is pressed.
(function () {
  "use strict";
  var panel = document.getElementById("hns-panel");
  if (!panel) return;
  var button = document.getElementById("hns-run");
  var state = document.getElementById("hns-state");
  var error = document.getElementById("hns-error");
  var review = document.getElementById("hns-review");
  var accept = document.getElementById("hns-accept");

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
    review.hidden = !data.review;
    review.dataset.review = data.review;
    document.getElementById("hns-review-words").textContent = data.review_words;
    var list = document.getElementById("hns-findings");
    list.replaceChildren();
    data.checks.forEach(function (f) {
      var item = document.createElement("li");
      item.textContent = f.check + " (" + f.severity + ") in " + f.where + (f.text ? ' "' + f.text + '"' : "") + ": " + f.detail;
      list.append(item);
    });
    accept.hidden = !data.held;
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
  accept.addEventListener("click", function () {
    accept.disabled = true;
    error.hidden = true;
    call("hns_accept").then(show).catch(fail).then(function () { accept.disabled = false; });
  });
  if (state.dataset.state === "queued") call("hns_status").then(show).catch(fail); // a job from publishing
})();
