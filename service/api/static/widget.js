/* notes-qa chat widget: plain JavaScript, no build step.
 *
 * Embed with one tag:  <script src="http://HOST:PORT/widget.js" data-endpoint="http://HOST:PORT"></script>
 * (a floating button opens the chat panel). GET / serves the same widget with data-mode="page".
 * A server with API keys: add data-api-key="KEY", or let the widget ask the user for one (kept for the tab only).
 * Scoped to some notes: data-scope="tag:interview folder:ml" (keys folder, file, tag, since, until; "#tag" is
 * short for tag:tag). The scope shows as a chip the user can remove to ask all notes.
 *
 * Safety: every piece of note or answer text reaches the page through text nodes (textContent / append of
 * strings), never through innerHTML, so a note holding <script> or <img onerror> is shown literally.
 * Answers are shown as plain text with line breaks kept (no markdown renderer, hence nothing to sanitize).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var fromSrc = script && script.src ? new URL(script.src, location.href).origin : location.origin;
  var endpoint = ((script && script.dataset.endpoint) || fromSrc).replace(/\/+$/, "");
  var pageMode = Boolean(script && script.dataset.mode === "page");
  /* API key: data-api-key on the tag, else one the user typed when the service asked (kept for this tab only). */
  var KEY_STORE = "notes-qa-api-key:" + endpoint;
  var apiKey = (script && script.dataset.apiKey) || readKey();
  function readKey() { try { return sessionStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; } }
  function saveKey(key) { apiKey = key; try { sessionStorage.setItem(KEY_STORE, key); } catch (e) { /* private mode */ } }
  var SCOPE_KEYS = ["folder", "file", "tag", "since", "until"];
  var scope = parseScope((script && script.dataset.scope) || "");
  function parseScope(text) {
    var found = {};
    text.trim().split(/\s+/).forEach(function (part) {
      if (part.charAt(0) === "#" && part.length > 1) { found.tag = part.slice(1); return; }
      var at = part.indexOf(":");
      if (at > 0 && SCOPE_KEYS.indexOf(part.slice(0, at)) >= 0 && part.length > at + 1) found[part.slice(0, at)] = part.slice(at + 1);
    });
    return Object.keys(found).length ? found : null;
  }
  function describeScope(s) {
    return SCOPE_KEYS.filter(function (k) { return s[k]; })
      .map(function (k) { return k === "tag" ? "#" + s.tag : k === "folder" ? s.folder + "/" : k + " " + s[k]; }).join(", ");
  }
  var MAX_HISTORY_TURNS = 12;
  var CITE = /\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]/g;

  var STYLE = [
    ":host { all: initial; font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 999px;",
    "  padding: 12px 18px; background: #2b59c3; color: #fff; font: inherit; font-weight: 600; cursor: pointer;",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".panel { display: flex; flex-direction: column; background: #fff; overflow: hidden; }",
    ".floating { position: fixed; right: 20px; bottom: 80px; width: 400px; height: min(620px, calc(100vh - 100px));",
    "  z-index: 2147483000; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.3); }",
    ".page { position: fixed; inset: 0; max-width: 860px; margin: 0 auto; box-shadow: 0 0 20px rgba(0,0,0,.08); }",
    ".panel[hidden] { display: none; }",
    "header { display: flex; align-items: center; gap: 8px; padding: 10px 14px; background: #2b59c3; color: #fff; }",
    "header h2 { flex: 1; margin: 0; font-size: 16px; } header .indexed { font-size: 12px; opacity: .85; }",
    "header button { border: 1px solid rgba(255,255,255,.6); background: transparent; color: #fff; border-radius: 6px;",
    "  padding: 4px 8px; font: inherit; font-size: 13px; cursor: pointer; }",
    ".log { flex: 1; overflow-y: auto; padding: 14px; display: flex; flex-direction: column; gap: 10px; }",
    ".hint { color: #5b6475; font-size: 14px; }",
    ".msg { max-width: 92%; padding: 8px 12px; border-radius: 10px; white-space: pre-wrap; overflow-wrap: anywhere; }",
    ".user { align-self: flex-end; background: #2b59c3; color: #fff; }",
    ".bot { align-self: flex-start; background: #eef1f6; }",
    ".bot.no-answer { background: #fff7e6; border: 1px solid #f0c36d; }",
    ".bot.error { background: #fdecec; border: 1px solid #e39a9a; }",
    ".status, .query, .note { display: block; color: #5b6475; font-size: 13px; margin-top: 4px; }",
    ".chip { border: 1px solid #2b59c3; background: #fff; color: #2b59c3; border-radius: 999px; padding: 0 7px;",
    "  margin: 0 2px; font: inherit; font-size: 12px; font-weight: 600; cursor: pointer; }",
    ".chip[aria-expanded=true] { background: #2b59c3; color: #fff; }",
    ".sources { margin-top: 6px; }",
    ".passage { margin-top: 8px; padding: 8px 10px; background: #fff; border-left: 3px solid #2b59c3; border-radius: 4px; }",
    ".passage .where { font-size: 12px; color: #5b6475; font-weight: 600; }",
    ".passage .text { margin: 4px 0 0; white-space: pre-wrap; font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; }",
    ".passage mark { background: #fff1a8; color: inherit; padding: 0 1px; }",
    ".quotes { margin: 8px 0 0; padding: 0; list-style: none; }",
    ".quote { margin: 4px 0 0; padding: 4px 8px; border-left: 3px solid #c9d3ea; color: #2a3140; font-size: 13px; white-space: pre-wrap; }",
    ".quote .where { display: block; font-size: 12px; color: #5b6475; }",
    "details.related { margin-top: 6px; } details.related summary { cursor: pointer; font-size: 13px; }",
    "form { display: flex; flex-wrap: wrap; gap: 6px; padding: 10px; border-top: 1px solid #dde1e8; }",
    "form label { flex-basis: 100%; font-size: 13px; font-weight: 600; color: #3b4456; }",
    "form input { flex: 1; min-width: 0; padding: 9px 10px; border: 1px solid #b9c0cc; border-radius: 8px; font: inherit; }",
    "form button { padding: 9px 14px; border: 0; border-radius: 8px; font: inherit; font-weight: 600; cursor: pointer; }",
    ".send { background: #2b59c3; color: #fff; } .send:disabled { background: #9aa8c9; cursor: default; }",
    ".stop { background: #c33b2b; color: #fff; } .stop[hidden] { display: none; }",
    ".key-form { border: 0; padding: 6px 0 0; } .key-form input { min-width: 0; }",
    ".scope { display: flex; align-items: center; gap: 6px; padding: 6px 10px 0; font-size: 13px; color: #3b4456; }",
    ".scope-chip { background: #e8eefc; border: 1px solid #b8c7ef; border-radius: 999px; padding: 2px 4px 2px 10px; }",
    ".scope button { border: 0; background: transparent; font: inherit; cursor: pointer; padding: 0 6px; }",
    ":focus-visible { outline: 3px solid #f0a500; outline-offset: 2px; }",
    "@media (max-width: 600px) { .floating { inset: 0; width: 100vw; height: 100%; border-radius: 0; }",
    "  .launcher { right: 12px; bottom: 12px; } .msg { max-width: 100%; } }",
  ].join("\n");

  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") node.textContent = attrs[key];
      else if (key === "class") node.className = attrs[key];
      else if (attrs[key] === true) node.setAttribute(key, "");
      else if (attrs[key] !== false && attrs[key] != null) node.setAttribute(key, String(attrs[key]));
    });
    for (var i = 2; i < arguments.length; i++) if (arguments[i] != null) node.append(arguments[i]);
    return node;
  }

  var host = el("div", { id: "notes-qa-widget" });
  var root = host.attachShadow({ mode: "open" });
  root.append(el("style", { text: STYLE }));

  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Conversation" },
    el("p", { class: "hint", text: "Ask a question; answers come only from your notes, with the passages they cite." }));
  var input = el("input", { id: "nqa-question", type: "text", autocomplete: "off", maxlength: 1000,
    placeholder: "e.g. What is the formula for recall?" });
  var send = el("button", { class: "send", type: "submit", text: "Send" });
  var stop = el("button", { class: "stop", type: "button", text: "Stop", hidden: true });
  var form = el("form", {}, el("label", { for: "nqa-question", text: "Ask your notes" }), input, send, stop);
  var clear = el("button", { type: "button", text: "New chat", title: "Forget the conversation so far" });
  var indexed = el("span", { class: "indexed", "aria-live": "polite" });
  var header = el("header", {}, el("h2", { text: "Notes Q&A" }), indexed, clear);
  /* When the served index was built (it changes under `serve --watch` as notes are saved). */
  function showIndexTime() {
    fetch(endpoint + "/ready").then(function (r) { return r.ok ? r.json() : null; }).then(function (ready) {
      var at = ready && ready.indexed_at ? new Date(ready.indexed_at) : null;
      indexed.textContent = at && !isNaN(at) ? "indexed " + at.toLocaleString([], { dateStyle: "short", timeStyle: "short" }) : "";
    }).catch(function () { indexed.textContent = ""; });
  }
  showIndexTime();
  var scopeBar = null;
  if (scope) {
    var unscope = el("button", { type: "button", text: "×", "aria-label": "Remove the scope: ask all notes" });
    scopeBar = el("div", { class: "scope" }, "Only:", el("span", { class: "scope-chip", text: describeScope(scope) }, unscope));
    unscope.addEventListener("click", function () { scope = null; scopeBar.remove(); input.focus(); });
  }
  var panel = el("section", { class: "panel " + (pageMode ? "page" : "floating"), "aria-label": "Notes Q&A chat" },
    header, log, scopeBar, form);
  root.append(panel);

  if (!pageMode) {
    var close = el("button", { type: "button", text: "Close", "aria-label": "Close the notes chat" });
    header.append(close);
    var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
      "aria-controls": "nqa-panel", text: "Ask your notes" });
    panel.id = "nqa-panel";
    panel.hidden = true;
    root.prepend(launcher);
    var toggle = function (open) {
      panel.hidden = !open;
      launcher.setAttribute("aria-expanded", String(open));
      if (open) input.focus(); else launcher.focus();
    };
    launcher.addEventListener("click", function () { toggle(panel.hidden); });
    close.addEventListener("click", function () { toggle(false); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") toggle(false); });
  }

  var history = [];
  var controller = null;
  var answerCount = 0;

  clear.addEventListener("click", function () {
    if (controller) controller.abort();
    history = [];
    while (log.children.length > 1) log.lastChild.remove();
    input.focus();
  });
  stop.addEventListener("click", function () { if (controller) controller.abort(); });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var question = input.value.trim();
    if (!question || controller) return;
    input.value = "";
    ask(question);
  });

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function busy(on) {
    send.disabled = on;
    stop.hidden = !on;
    if (!on) input.focus();
  }

  function ask(question) {
    log.append(el("div", { class: "msg user", text: question }));
    var bubble = el("div", { class: "msg bot", "aria-busy": "true" });
    var draft = el("span", { class: "draft" });
    var status = el("span", { class: "status", text: "Searching your notes…" });
    bubble.append(draft, status);
    log.append(bubble);
    scrollDown();
    controller = new AbortController();
    busy(true);
    var sentHistory = history.slice(-MAX_HISTORY_TURNS);
    var headers = { "Content-Type": "application/json", Accept: "text/event-stream" };
    if (apiKey) headers.Authorization = "Bearer " + apiKey;
    fetch(endpoint + "/ask/stream", {
      method: "POST",
      headers: headers,
      body: JSON.stringify(scope ? { question: question, history: sentHistory, scope: scope }
        : { question: question, history: sentHistory }),
      signal: controller.signal,
    })
      .then(function (response) {
        if (response.status === 401) throw new KeyNeeded(Boolean(apiKey));
        if (!response.ok) return readError(response).then(function (e) { throw new ShownError(e.message, e.sources); });
        return readEvents(response, function (kind, data) {
          if (kind === "evidence") {
            var count = data.evidence.length;
            status.textContent = count ? "Found " + count + " relevant passage" + (count === 1 ? "" : "s") +
              " in your notes; answering…" : "Nothing in your notes matches; checking…";
          } else if (kind === "token") {
            status.textContent = "Answering…";
            draft.textContent += data.text;
          } else if (kind === "answer") {
            showAnswer(bubble, data, question);
            showIndexTime();
            history.push({ role: "user", content: question }, { role: "assistant", content: data.answer });
          } else if (kind === "error") {
            throw new ShownError("The notes service could not answer: " + (data.detail || "unknown error"), data.sources);
          }
          scrollDown();
        });
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") {
          status.textContent = "Stopped.";
          bubble.classList.add("stopped");
        } else if (err instanceof KeyNeeded) {
          draft.textContent = "";
          status.remove();
          askForKey(bubble, question, err.wrong);
        } else {
          bubble.classList.add("error");
          draft.textContent = "";
          status.remove();
          bubble.append(el("span", { role: "alert", text: err instanceof ShownError ? err.message :
            "Could not reach the notes service at " + endpoint + ". Check that it is running" +
            (location.origin === endpoint ? "." : ", and that it allows this site's origin (NOTES_QA_CORS_ORIGINS).") }));
          if (err instanceof ShownError && err.sources.length) {
            // retrieval worked, generation did not: the passages found are still worth reading
            bubble.append(el("span", { class: "note", text: "Passages that matched your question:" }));
            err.sources.forEach(function (hit) {
              bubble.append(el("details", { class: "related" },
                el("summary", { text: where(hit.file, hit.heading, hit.lines) }), passageView(hit)));
            });
          }
        }
      })
      .finally(function () {
        bubble.removeAttribute("aria-busy");
        controller = null;
        busy(false);
        scrollDown();
      });
  }

  function KeyNeeded(wrong) { this.name = "KeyNeeded"; this.wrong = wrong; }
  KeyNeeded.prototype = Object.create(Error.prototype);

  /* The service wants an API key: ask for it in the conversation, then ask the question again. */
  function askForKey(bubble, question, wrong) {
    bubble.classList.add("error");
    var field = el("input", { type: "password", autocomplete: "off", "aria-label": "API key",
      placeholder: "API key" });
    var keyForm = el("form", { class: "key-form" }, field, el("button", { class: "send", type: "submit", text: "Use key" }));
    bubble.append(el("span", { role: "alert", text: wrong ? "That API key was not accepted. Enter another:" :
      "This notes service needs an API key (ask whoever runs it):" }), keyForm);
    keyForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var key = field.value.trim();
      if (!key) return;
      saveKey(key);
      keyForm.remove();
      ask(question);
    });
    setTimeout(function () { field.focus(); }, 0);
  }

  function ShownError(message, sources) {
    this.message = message;
    this.name = "ShownError";
    this.sources = Array.isArray(sources) ? sources : [];
  }
  ShownError.prototype = Object.create(Error.prototype);

  function readError(response) {
    return response.text().then(function (body) {
      var detail = body, sources = [];
      try {
        var parsed = JSON.parse(body).detail;
        if (parsed && Array.isArray(parsed.sources)) sources = parsed.sources;
        detail = Array.isArray(parsed) ? parsed.map(function (d) { return d.msg; }).join("; ") :
          parsed && typeof parsed === "object" ? (parsed.reason || parsed.detail || JSON.stringify(parsed)) : parsed;
      } catch (e) { /* not JSON: keep the text */ }
      detail = String(detail || response.statusText).slice(0, 300);
      return { sources: sources, message: response.status < 500 ?
        "The question was not accepted (HTTP " + response.status + "): " + detail :
        "The notes service had a problem (HTTP " + response.status + "): " + detail + ". Try again in a moment." };
    });
  }

  /* Server-sent events over fetch (EventSource cannot POST): blocks split by a blank line. */
  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function handle(block) {
      var kind = "message", data = [];
      block.split(/\r?\n/).forEach(function (line) {
        if (line.indexOf("event:") === 0) kind = line.slice(6).trim();
        else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
      });
      if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { if (buffer.trim()) handle(buffer); return; }
        buffer += decoder.decode(chunk.value, { stream: true });
        var blocks = buffer.split(/\r?\n\r?\n/);
        buffer = blocks.pop();
        blocks.forEach(handle);
        return pump();
      });
    }
    return pump();
  }

  function showAnswer(bubble, data, question) {
    bubble.textContent = "";
    if (data.query && data.query !== question) {
      bubble.append(el("span", { class: "query", text: "Searched for: " + data.query }));
    }
    if (data.abstained) {
      bubble.classList.add("no-answer");
      bubble.append(el("strong", { text: "No answer found in your notes." }),
        el("span", { class: "note", text: data.related.length ?
          "Your notes don't seem to say. These passages came closest:" : "Your notes don't seem to say." }));
      data.related.forEach(function (hit) {
        bubble.append(el("details", { class: "related" },
          el("summary", { text: where(hit.file, hit.heading, hit.lines) }), passageView(hit)));
      });
      return;
    }
    var byNumber = {};
    data.citations.forEach(function (c) { byNumber[c.n] = c; });
    var body = el("div", { class: "answer" });
    var panels = el("div", { class: "passages", id: "nqa-passages-" + (++answerCount) });
    var last = 0;
    data.answer.replace(CITE, function (match, group, offset) {
      var numbers = group.split(",").map(function (s) { return parseInt(s, 10); });
      if (!numbers.every(function (n) { return byNumber[n]; })) return match;
      body.append(data.answer.slice(last, offset));
      numbers.forEach(function (n) { body.append(chip(byNumber[n], panels)); });
      last = offset + match.length;
      return match;
    });
    body.append(data.answer.slice(last));
    // the exact cited lines, under the answer: what it rests on, readable without a click
    var quotes = el("ul", { class: "quotes", "aria-label": "Quoted from your notes" });
    data.citations.forEach(function (c) {
      quotes.append(el("li", { class: "quote" }, "[" + c.n + "] " + c.quote,
        el("span", { class: "where", text: where(c.file, c.heading, c.quote_lines) })));
    });
    var sources = el("div", { class: "sources" }, el("span", { class: "note", text: "Sources:" }));
    data.citations.forEach(function (c) { sources.append(chip(c, panels, "[" + c.n + "] " + c.file)); });
    bubble.append(body, quotes, sources, panels);
  }

  function chip(citation, panels, label) {
    var id = panels.id + "-" + citation.n;
    var button = el("button", { class: "chip", type: "button", "aria-expanded": "false", "aria-controls": id,
      "aria-label": "Source " + citation.n + ": " + citation.file, "data-n": citation.n,
      text: label || "[" + citation.n + "]" });
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") === "true";
      var shown = panels.querySelector("[data-n='" + citation.n + "']");
      if (open && shown) shown.remove();
      if (!open && !shown) {
        var view = passageView(citation);
        view.id = id;
        view.dataset.n = String(citation.n);
        panels.append(view);
      }
      panels.parentNode.querySelectorAll(".chip").forEach(function (other) {
        if (other.dataset.n === button.dataset.n) other.setAttribute("aria-expanded", String(!open));
      });
      scrollDown();
    });
    return button;
  }

  function where(file, heading, lines) {
    return file + (heading ? " · " + heading : "") + " · lines " + lines[0] + "–" + lines[1];
  }

  /* A passage; a citation's passage shows its quoted span highlighted (<mark>). */
  function passageView(hit) {
    var text = el("p", { class: "text" });
    var at = hit.quote ? hit.text.indexOf(hit.quote) : -1;
    if (at >= 0) {
      text.append(hit.text.slice(0, at), el("mark", { text: hit.quote }), hit.text.slice(at + hit.quote.length));
    } else {
      text.textContent = hit.text;
    }
    var head = el("div", { class: "where", text: where(hit.file, hit.heading, hit.lines) });
    var link = hit.obsidian_uri || hit.uri;
    if (link && /^(obsidian|file):/.test(link)) {  /* only our own schemes: never a javascript: URL from a response */
      head.append(" · ", el("a", { class: "open", href: link, target: "_blank", rel: "noopener noreferrer",
        title: hit.obsidian_uri ? "Open in Obsidian" : "Open the note file", text: "open" }));
    }
    return el("div", { class: "passage" }, head, text);
  }

  function mount() { document.body.append(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
