// The editor's page: posts the article to /summarize and shows the result. No build step, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "summarizer-api-key"; // sessionStorage only: gone when the tab closes

const WHAT_TO_DO = {
  401: "This service needs an API key. Open “API key” above and paste the key your newsroom was given.",
  403: "The API key was not accepted. Check it for typos, or ask for a new one.",
  413: "The article is too long for one request. Split it, or ask the operators to raise the limit.",
  429: "The service is busy right now.",
  503: "The service is starting up or restarting. Try again in a minute.",
  504: "The article took too long to process. Try again, or send a shorter text.",
};

function showError(status, body, retryAfter) {
  const box = $("error");
  const message = body && body.error ? body.error.message : "";
  let text = WHAT_TO_DO[status] || (status >= 500 ? "The service failed on this article." : "The request was not accepted.");
  if (status === 429 && retryAfter) text += ` Try again in ${retryAfter} seconds.`;
  if (message) text += ` (${message})`;
  if (body && body.error && body.error.request_id) text += ` Reference: ${body.error.request_id}.`;
  if (status === 0) text = "The service could not be reached. Check your connection and try again.";
  box.textContent = text;
  box.hidden = false;
  box.dataset.status = String(status);
}

function setBusy(busy) {
  $("submit").disabled = busy;
  $("status").textContent = busy ? "Working… translating and summarizing" : "";
  $("status").classList.toggle("busy", busy);
}

const LANGUAGES = {}; // FLORES code → {iso, name}, from /languages

async function loadLanguages() {
  // Fills the language choice; without it the page still works (the service detects the language).
  const response = await fetch("/languages").catch(() => null);
  if (!response || !response.ok) return;
  for (const language of (await response.json()).languages) {
    LANGUAGES[language.code] = language;
    $("source-lang").append(new Option(`${language.name} (${language.code})`, language.code));
  }
}

function showLanguage(meta) {
  // Which language the article was read as, and how: detected (with the editor's way to correct it) or chosen.
  const language = LANGUAGES[meta.source_lang] || { name: meta.source_lang, iso: "" };
  const detection = meta.language_detection;
  $("language").textContent = detection
    ? `Language: ${language.name}, detected (${Math.round(detection.confidence * 100)}% sure). ` +
      "If that is wrong, choose the language above and submit again."
    : `Language: ${language.name}, as chosen.`;
  return language;
}

const CHECK_WORDS = {
  number: "figure", name: "name", placeholder: "link or handle", untranslated: "untranslated", repetition: "repetition",
  glossary: "glossary term", artifact: "model artifact", empty: "empty", length: "length", unchecked: "not checked",
};
function placeWords(where) {
  const paragraph = /^translation\.paragraphs\[(\d+)\]$/.exec(where);
  if (paragraph) return `translation, paragraph ${Number(paragraph[1]) + 1}`;
  if (where === "summary.en") return "English summary";
  const summary = /^summary\.(.+)$/.exec(where); // the summary in the article's language, by its ISO code
  const language = summary && Object.values(LANGUAGES).find((l) => l.iso === summary[1]);
  return language ? `${language.name} summary` : where;
}

function reason(finding) {
  return `${CHECK_WORDS[finding.check] || finding.check}: ${finding.detail}`;
}

// Writes ``text`` into ``element`` with each finding's span (code points, as the service counts) as a <mark> whose
// title says why. Spans that overlap one already marked, or that are empty, are only listed, not marked.
function showMarked(element, text, findings) {
  const chars = Array.from(text);
  const spans = findings
    .filter((f) => f.span[1] > f.span[0] && f.span[1] <= chars.length)
    .sort((a, b) => a.span[0] - b.span[0]);
  element.replaceChildren();
  let at = 0;
  for (const f of spans) {
    const [start, end] = f.span;
    if (start < at) continue;
    element.append(chars.slice(at, start).join(""));
    const mark = document.createElement("mark");
    mark.className = "flag";
    mark.dataset.check = f.check;
    mark.dataset.severity = f.severity;
    mark.title = reason(f);
    mark.textContent = chars.slice(start, end).join("");
    element.append(mark);
    at = end;
  }
  element.append(chars.slice(at).join(""));
}

// A finding on the whole translation, in the coordinates of the paragraph that holds its span (or null).
function inParagraph(finding, whole, paragraphs) {
  let from = 0;
  for (let i = 0; i < paragraphs.length; i++) {
    const index = whole.indexOf(paragraphs[i], from);
    if (index < 0) return null;
    const start = Array.from(whole.slice(0, index)).length;
    const end = start + Array.from(paragraphs[i]).length;
    if (finding.span[0] >= start && finding.span[1] <= end) {
      return [i, { ...finding, span: [finding.span[0] - start, finding.span[1] - start] }];
    }
    from = index + paragraphs[i].length;
  }
  return null;
}

function renderReview(result, paragraphs) {
  const checks = result.meta.checks || [];
  const needsReview = result.meta.review === "needs_review";
  $("review").dataset.review = result.meta.review || "ok";
  $("review-verdict").textContent = needsReview
    ? `needs review (${checks.length} finding${checks.length === 1 ? "" : "s"})`
    : "no findings";
  const list = $("findings");
  list.replaceChildren();
  for (const f of checks) {
    const item = document.createElement("li");
    item.dataset.check = f.check;
    const name = document.createElement("span");
    name.className = "check";
    name.textContent = `${CHECK_WORDS[f.check] || f.check} (${f.severity})`;
    item.append(name, ` in the ${placeWords(f.where)}`, f.text ? `: “${f.text}” — ` : " — ", f.detail);
    list.append(item);
  }
  const byPlace = {};
  const whole = result.translation ? result.translation.en : "";
  for (const f of checks) {
    let where = f.where;
    let finding = f;
    if (where === "translation") {
      const found = inParagraph(f, whole, paragraphs);
      if (!found) continue;
      where = `translation.paragraphs[${found[0]}]`;
      finding = found[1];
    }
    (byPlace[where] = byPlace[where] || []).push(finding);
  }
  return byPlace;
}

function render(text, result) {
  const language = showLanguage(result.meta);
  const english = result.translation ? result.translation.paragraphs : [];
  const flagged = renderReview(result, english);
  const native = result.summary[language.iso];
  $("summary-native-title").textContent = `${language.name} summary`;
  $("summary-hi-text").lang = language.iso;
  const nativeText = native || (result.meta.unavailable_summaries || {})[language.iso] || "—";
  showMarked($("summary-hi-text"), nativeText, native ? flagged[`summary.${language.iso}`] || [] : []);
  showMarked($("summary-en-text"), result.summary.en || "—", flagged["summary.en"] || []);
  const body = $("paragraphs").querySelector("tbody");
  body.replaceChildren();
  const source = text.split(/\n+/).map((p) => p.trim()).filter(Boolean);
  const rows = Math.max(source.length, english.length);
  for (let i = 0; i < rows; i++) {
    const tr = document.createElement("tr");
    const hi = document.createElement("td");
    hi.lang = language.iso;
    hi.textContent = source[i] || "";
    const en = document.createElement("td");
    en.lang = "en";
    en.className = "english";
    showMarked(en, english[i] || "", flagged[`translation.paragraphs[${i}]`] || []);
    tr.append(hi, en);
    body.append(tr);
  }
  $("translation-text").textContent = result.translation ? result.translation.en : "";
  const t = result.meta.timings_ms;
  const c = result.meta.cache;
  const reused = c.hits
    ? ` ${c.hits} of ${c.sentences} sentences reused from earlier translations` +
      (c.summary_reused ? ", and the summary." : ".")
    : "";
  $("timings").textContent =
    `Took ${(t.total / 1000).toFixed(1)} s (translation ${(t.translate / 1000).toFixed(1)} s, ` +
    `summary ${(t.summarize / 1000).toFixed(1)} s) on ${result.meta.device}` +
    (result.meta.truncated ? ". The summary covers the beginning of this long article." : ".") + reused;
  $("result").hidden = false;
}

const JOB_WORDS = { queued: "Queued", running: "Running: translating and summarizing" };

async function followJob(statusUrl, headers) {
  // Polls the job once a second, saying where it is, until it has finished.
  const started = Date.now();
  for (;;) {
    const response = await fetch(statusUrl, { headers });
    const job = await response.json();
    if (!response.ok) throw new Error(job.error ? job.error.message : response.statusText);
    if (!(job.status in JOB_WORDS)) return job;
    const seconds = Math.round((Date.now() - started) / 1000);
    $("status").textContent = `Job ${job.job_id.slice(0, 8)}…: ${JOB_WORDS[job.status]} (${seconds} s)`;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function submit(event) {
  event.preventDefault();
  $("error").hidden = true;
  const text = $("article").value;
  if (!text.trim()) {
    showError(422, { error: { message: "Paste an article first." } });
    return;
  }
  const languages = [];
  if ($("summary-hi").checked) languages.push("source");
  if ($("summary-en").checked) languages.push("en");
  const key = $("api-key").value.trim();
  sessionStorage.setItem(KEY_STORAGE, key);
  const headers = { "Content-Type": "application/json" };
  if (key) headers["X-API-Key"] = key;
  const payload = {
    text,
    options: { translate: $("translate").checked, summary_languages: languages, long_article: $("long-article").value },
  };
  if ($("drop-unsupported").checked) payload.options.on_unsupported = "drop";
  const glossary = $("glossary").value.trim();
  if (glossary) payload.options.glossary = glossary;
  setBusy(true);
  try {
    const asJob = $("as-job").checked;
    const url = asJob ? "/jobs" : "/summarize";
    if ($("source-lang").value) payload.source_lang = $("source-lang").value; // the editor's override
    if (asJob) payload.priority = "interactive"; // an editor is waiting for it
    const response = await fetch(url, { method: "POST", headers, body: JSON.stringify(payload) });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      showError(response.status, body, response.headers.get("Retry-After"));
      return;
    }
    if (!asJob) {
      render(text, body);
      return;
    }
    const job = await followJob(body.status_url, headers);
    if (job.status === "done") render(text, job.result);
    else showError(job.error ? job.error.status || 500 : 409, { error: job.error || { message: `The job was ${job.status}.` } });
  } catch (err) {
    showError(0, null);
  } finally {
    setBusy(false);
  }
}

$("article").addEventListener("input", () => {
  $("chars").textContent = `${$("article").value.length} characters`;
});
$("file").addEventListener("change", async () => {
  const file = $("file").files[0];
  if (file) {
    $("article").value = await file.text();
    $("article").dispatchEvent(new Event("input"));
  }
});
document.querySelectorAll(".copy").forEach((button) =>
  button.addEventListener("click", async () => {
    await navigator.clipboard.writeText($(button.dataset.copy).textContent);
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = button.dataset.copy === "translation-text" ? "Copy English" : "Copy"), 1500);
  })
);
$("api-key").value = sessionStorage.getItem(KEY_STORAGE) || "";
$("article-form").addEventListener("submit", submit);
loadLanguages();
