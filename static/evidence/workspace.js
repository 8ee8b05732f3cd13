/* The coding workspace of a source (evidence/workspace.py).
 *
 * Offsets: every stretch of #ws-text is an element whose data-s is the code-point offset it starts at
 * (the server counts them as Python does). A selection boundary is a DOM position, whose offset counts
 * UTF-16 code units; the boundary's offset is its stretch's data-s plus the code points of the
 * stretch's text before it, so an astral character ("𝒳", an emoji) counts once. The server checks
 * the text again before it writes.
 *
 * Every change to the configuration card is saved at once with the version the card was read at; a
 * save from an older version comes back as 409 and the card keeps what was typed.
 */
(function () {
  "use strict";

  function codePoints(s) {
    var n = 0;
    for (var _ of s) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  // The UTF-16 index of the code point `count` of s.
  function utf16Index(s, count) {
    var i = 0, n = 0;
    while (n < count && i < s.length) {
      var c = s.charCodeAt(i);
      i += c >= 0xd800 && c <= 0xdbff && i + 1 < s.length ? 2 : 1;
      n++;
    }
    return i;
  }

  function $(id) { return document.getElementById(id); }

  function init() {
    var shell = document.querySelector(".ws");
    var root = $("ws-text");
    if (!shell || !root) return;
    var writer = shell.dataset.writer === "true";
    var options = JSON.parse($("ws-options").textContent);
    var card = JSON.parse($("ws-current").textContent);
    var csrf = (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value;
    var popover = $("ws-popover");
    var span = null; // the current selection: {start, end, text}
    var inConflict = false;

    // --- offsets ---------------------------------------------------------------------------------
    function stretches() { return root.querySelectorAll("[data-s]"); }

    function offsetOf(node, offset) {
      if (node.nodeType === Node.TEXT_NODE) {
        var el = node.parentElement.closest("[data-s]");
        return Number(el.dataset.s) + codePoints(node.data.slice(0, offset));
      }
      var el2 = node === root ? null : node.closest("[data-s]");
      if (el2 && root.contains(el2)) {
        return Number(el2.dataset.s) + (offset > 0 ? codePoints(el2.textContent) : 0);
      }
      // A position between the children of #ws-text: the next stretch's start, or the end.
      var child = root.childNodes[offset];
      while (child && !(child.dataset && child.dataset.s !== undefined)) child = child.nextSibling;
      return child ? Number(child.dataset.s) : Number(root.dataset.length);
    }

    function selectedSpan() {
      var sel = window.getSelection();
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
      var range = sel.getRangeAt(0);
      if (!root.contains(range.commonAncestorContainer) && range.commonAncestorContainer !== root) return null;
      var text = range.toString();
      if (!text.trim()) return null;
      var start = offsetOf(range.startContainer, range.startOffset);
      var end = offsetOf(range.endContainer, range.endOffset);
      if (end - start !== codePoints(text)) return null;
      return { start: start, end: end, text: text };
    }

    // The element and UTF-16 position of code-point offset `cp`.
    function locate(cp) {
      var list = stretches(), lo = 0, hi = list.length - 1;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (Number(list[mid].dataset.s) <= cp) lo = mid; else hi = mid - 1;
      }
      var el = list[lo];
      var local = cp - Number(el.dataset.s);
      return { el: el, index: utf16Index(el.textContent, local) };
    }

    // Cut the stretch at code-point offset `cp` so a new excerpt starts or ends on a stretch boundary.
    function splitAt(cp) {
      if (cp >= Number(root.dataset.length)) return;
      var at = locate(cp);
      if (at.index === 0) return;
      var text = at.el.firstChild;
      var tail = at.el.cloneNode(false);
      tail.removeAttribute("data-tags");
      tail.dataset.s = String(cp);
      tail.textContent = text.data.slice(at.index);
      text.data = text.data.slice(0, at.index);
      at.el.after(tail);
    }

    function highlight(excerpt, tag) {
      splitAt(excerpt.start);
      splitAt(excerpt.end);
      var first = true;
      stretches().forEach(function (el) {
        var s = Number(el.dataset.s);
        if (s < excerpt.start || s >= excerpt.end) return;
        var mark = el;
        if (el.tagName !== "MARK") {
          mark = document.createElement("mark");
          mark.dataset.s = el.dataset.s;
          mark.textContent = el.textContent;
          el.replaceWith(mark);
        }
        mark.classList.add("ws-excerpt", tag.indexOf("code:") === 0 ? "ws-coded" : "ws-linked");
        var ids = (mark.dataset.excerpts || "").split(" ").filter(Boolean);
        if (ids.indexOf(String(excerpt.id)) < 0) ids.push(String(excerpt.id));
        mark.dataset.excerpts = ids.join(" ");
        if (first) {
          mark.dataset.tags = ((mark.dataset.tags || "") + " " + tag).trim();
          first = false;
        }
      });
    }

    // --- find ------------------------------------------------------------------------------------
    var find = $("ws-find"), hits = [], hit = -1;

    function textNodes() {
      var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), nodes = [], node, at = 0;
      while ((node = walker.nextNode())) { nodes.push({ node: node, at: at }); at += node.data.length; }
      return nodes;
    }

    function position(nodes, index) {
      var lo = 0, hi = nodes.length - 1;
      while (lo < hi) {
        var mid = (lo + hi + 1) >> 1;
        if (nodes[mid].at <= index) lo = mid; else hi = mid - 1;
      }
      return { node: nodes[lo].node, offset: index - nodes[lo].at };
    }

    function search() {
      var needle = find.value.toLowerCase();
      hits = [];
      hit = -1;
      if (needle) {
        var haystack = root.textContent.toLowerCase(), i = haystack.indexOf(needle);
        while (i >= 0 && hits.length < 5000) { hits.push(i); i = haystack.indexOf(needle, i + needle.length); }
      }
      $("ws-hits").textContent = needle ? (hits.length ? hits.length + " hits" : "no hit") : "";
      if (hits.length) go(0, false);
    }

    // The current hit: highlighted while the find box has the focus (selecting it there would take
    // the focus from the box), the document's selection once the box is left (Esc) or with n / p.
    function hitRange() {
      var nodes = textNodes(), a = position(nodes, hits[hit]), b = position(nodes, hits[hit] + find.value.length);
      var range = document.createRange();
      range.setStart(a.node, a.offset);
      range.setEnd(b.node, b.offset);
      return range;
    }

    function selectHit() {
      if (hit < 0 || !hits.length) return;
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(hitRange());
      if (window.CSS && CSS.highlights) CSS.highlights.delete("ws-hit");
      onSelection();
    }

    function go(index, select) {
      if (!hits.length) return;
      hit = (index + hits.length) % hits.length;
      var range = hitRange();
      var column = root.parentElement, top = range.getBoundingClientRect().top - column.getBoundingClientRect().top;
      column.scrollTop += top - column.clientHeight / 3;
      if (window.CSS && CSS.highlights && window.Highlight) CSS.highlights.set("ws-hit", new Highlight(range));
      $("ws-hits").textContent = (hit + 1) + " of " + hits.length;
      if (select) selectHit();
    }

    if (find) {
      find.addEventListener("input", search);
      find.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); go(hit + (event.shiftKey ? -1 : 1), false); }
        if (event.key === "Escape") { find.blur(); selectHit(); }
      });
      $("ws-next").addEventListener("click", function () { go(hit + 1, true); });
      $("ws-prev").addEventListener("click", function () { go(hit - 1, true); });
    }

    // The outline scrolls the text to a heading.
    document.querySelectorAll("#ws-outline a[data-heading]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var anchor = $("ws-h-" + link.dataset.heading);
        if (!anchor) return;
        event.preventDefault();
        (anchor.nextElementSibling || anchor).scrollIntoView({ block: "start" });
      });
    });

    // --- requests --------------------------------------------------------------------------------
    // Writes go one after the other, each from the version the previous one returned: a quick second
    // change must not be refused as stale because the first had not come back yet.
    var queue = Promise.resolve();

    function serially(work) {
      queue = queue.then(work, work);
      return queue;
    }

    function post(url, body) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
        body: JSON.stringify(body),
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { status: response.status, data: data };
        });
      });
    }

    function problem(data) {
      if (data.detail) return data.detail;
      var errors = data.errors || {};
      return Object.keys(errors).map(function (field) { return field + ": " + errors[field].join(" "); }).join("; ")
        || "The server refused the change.";
    }

    // --- the popover -----------------------------------------------------------------------------
    function onSelection() {
      if (!writer || !popover) return;
      var found = selectedSpan();
      if (!found) return;
      span = found;
      var shown = span.text.length > 120 ? span.text.slice(0, 119) + "…" : span.text;
      $("ws-popover-span").textContent = span.start + "–" + span.end + ": “" + shown + "”";
      $("ws-popover-message").textContent = card ? "" : "Attaching starts a new configuration.";
      var rect = window.getSelection().getRangeAt(0).getBoundingClientRect();
      popover.hidden = false;
      // position: fixed (workspace.css), so viewport coordinates; kept inside the window.
      popover.style.top = Math.max(8, Math.min(rect.bottom + 8, window.innerHeight - popover.offsetHeight - 8)) + "px";
      popover.style.left = Math.max(8, Math.min(rect.left, window.innerWidth - popover.offsetWidth - 16)) + "px";
    }

    function closePopover() { if (popover) popover.hidden = true; }

    root.addEventListener("mouseup", function () { window.setTimeout(onSelection, 0); });
    root.addEventListener("keyup", function (event) { if (event.shiftKey) onSelection(); });

    function sendPassage(extra, tag) {
      if (!span) return Promise.resolve();
      var body = Object.assign({ start: span.start, end: span.end, text: span.text }, extra);
      $("ws-popover-message").textContent = "Saving…";
      return serially(function () { return post(shell.dataset.passageUrl, body); }).then(function (answer) {
        if (answer.status >= 400) { $("ws-popover-message").textContent = problem(answer.data); return; }
        highlight(answer.data.excerpt, tag(answer.data));
        if (answer.data.configuration) showCard(answer.data.configuration);
        var who = answer.data.excerpt.attribution ? " " + answer.data.excerpt.attribution : "";
        $("ws-popover-message").textContent = "Saved: excerpt " + answer.data.excerpt.slug + who + ".";
        closePopover();
        window.getSelection().removeAllRanges();
      });
    }

    if (popover) {
      $("ws-apply-codes").addEventListener("click", function () {
        var codes = Array.prototype.map.call(popover.querySelectorAll(".ws-code:checked"), function (box) { return Number(box.value); });
        if (!codes.length) { $("ws-popover-message").textContent = "Tick the codes to apply."; return; }
        sendPassage({ codes: codes }, function (data) {
          return data.codings.map(function (c) { return "code:" + c.name; }).join(" ");
        }).then(function () { popover.querySelectorAll(".ws-code:checked").forEach(function (box) { box.checked = false; }); });
      });
      popover.querySelectorAll(".ws-attach").forEach(function (button) {
        button.addEventListener("click", function () {
          var part = button.dataset.part;
          var ready = card ? Promise.resolve(card) : createCard();
          ready.then(function (current) {
            if (!current) return;
            sendPassage({ configuration: current.id, part: part, stance: $("ws-stance").value }, function () {
              return "· " + part.charAt(0).toUpperCase() + " " + current.slug;
            });
          });
        });
      });
    }

    // --- the card --------------------------------------------------------------------------------
    function chips(list, items, field) {
      list.textContent = "";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item.name + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "ws-chip-remove";
        remove.textContent = "×";
        remove.setAttribute("aria-label", "Remove " + item.name);
        remove.addEventListener("click", function () {
          save(field, card[field].map(function (t) { return t.id; }).filter(function (id) { return id !== item.id; }));
        });
        li.appendChild(remove);
        list.appendChild(li);
      });
    }

    function addOption(select, id, name) {
      if (!select.querySelector('option[value="' + id + '"]')) {
        var option = document.createElement("option");
        option.value = id;
        option.textContent = name;
        select.appendChild(option);
      }
    }

    var LETTERS = { context: "C", mechanism: "M", outcome: "O" };

    function showCard(data, keepTyped) {
      card = data;
      inConflict = false;
      $("ws-conflict").hidden = true;
      $("ws-card-body").hidden = false;
      addOption($("ws-config-select"), data.id, data.title + " (" + data.slug + ")");
      $("ws-config-select").value = String(data.id);
      if (!keepTyped) {
        $("ws-title").value = data.title;
        $("ws-statement").value = data.statement;
      }
      chips($("ws-contexts"), data.contexts, "contexts");
      chips($("ws-outcomes"), data.outcomes, "outcomes");
      data.contexts.forEach(function (t) { addOption($("ws-add-context"), t.id, t.name); });
      data.outcomes.forEach(function (t) { addOption($("ws-add-outcome"), t.id, t.name); });
      $("ws-add-context").value = "";
      $("ws-add-outcome").value = "";
      $("ws-mechanism").value = data.mechanism ? String(data.mechanism) : "";
      $("ws-theme").value = data.theme ? String(data.theme) : "";
      $("ws-effect-" + data.effect).checked = true;
      var evidence = $("ws-evidence");
      evidence.textContent = "";
      data.evidence.forEach(function (link) {
        var li = document.createElement("li");
        li.className = "ws-evidence-" + link.part;
        var a = document.createElement("a");
        a.href = "#excerpt-" + link.excerpt;
        a.textContent = LETTERS[link.part] + " " + link.stance + ": “" + link.text + "”";
        li.appendChild(a);
        evidence.appendChild(li);
      });
      var problems = $("ws-problems");
      problems.textContent = "";
      data.problems.forEach(function (text) {
        var li = document.createElement("li");
        li.textContent = "Not yet publishable: " + text + ".";
        problems.appendChild(li);
      });
      $("ws-change-link").href = data.change_url;
    }

    function save(field, value) {
      if (!card) return Promise.resolve();
      $("ws-save-status").textContent = "Saving…";
      return serially(function () {
        if (inConflict) return { status: 0 };
        var body = { id: card.id, version: card.version };
        body[field] = value;
        return post(shell.dataset.configurationUrl, body);
      }).then(function (answer) {
        if (answer.status === 0) { $("ws-save-status").textContent = "Not saved: reload the card first (see below)."; return; }
        if (answer.status === 409) {
          inConflict = true;
          $("ws-conflict-text").textContent = answer.data.detail;
          $("ws-conflict").hidden = false;
          $("ws-conflict").dataset.current = JSON.stringify(answer.data.configuration);
          $("ws-save-status").textContent = "Not saved.";
          return;
        }
        if (answer.status >= 400) { $("ws-save-status").textContent = "Not saved: " + problem(answer.data); return; }
        showCard(answer.data.configuration, field !== "title" && field !== "statement");
        $("ws-save-status").textContent = "Draft saved.";
      });
    }

    function createCard() {
      return serially(function () { return post(shell.dataset.configurationUrl, {}); }).then(function (answer) {
        if (answer.status >= 400) { $("ws-save-status").textContent = problem(answer.data); return null; }
        showCard(answer.data.configuration);
        return card;
      });
    }

    if (writer && $("ws-card-body")) {
      $("ws-new-config").addEventListener("click", function () { createCard().then(function () { $("ws-title").select(); }); });
      $("ws-config-select").addEventListener("change", function (event) {
        if (event.target.value) window.location.search = "?configuration=" + event.target.value;
      });
      var typing = null;
      ["title", "statement"].forEach(function (name) {
        var input = $("ws-" + name);
        // Saved a moment after typing stops, and on leaving the field if that save has not run yet.
        function saveTyped() {
          window.clearTimeout(typing);
          if (card && input.value !== card[name]) save(name, input.value);
        }
        input.addEventListener("input", function () {
          window.clearTimeout(typing);
          typing = window.setTimeout(saveTyped, 800);
        });
        input.addEventListener("change", saveTyped);
      });
      $("ws-add-context").addEventListener("change", function (event) {
        if (!event.target.value) return;
        save("contexts", card.contexts.map(function (t) { return t.id; }).concat([Number(event.target.value)]));
      });
      $("ws-add-outcome").addEventListener("change", function (event) {
        if (!event.target.value) return;
        save("outcomes", card.outcomes.map(function (t) { return t.id; }).concat([Number(event.target.value)]));
      });
      ["context", "outcome"].forEach(function (name) {
        var input = $("ws-new-" + name);
        input.addEventListener("keydown", function (event) {
          if (event.key !== "Enter" || !input.value.trim()) return;
          event.preventDefault();
          save("new_" + name, input.value).then(function () { if (!inConflict) input.value = ""; });
        });
      });
      $("ws-mechanism").addEventListener("change", function (event) { save("mechanism", event.target.value || null); });
      $("ws-theme").addEventListener("change", function (event) { save("theme", event.target.value || null); });
      document.querySelectorAll("input[name=ws-effect]").forEach(function (radio) {
        radio.addEventListener("change", function () { save("effect", radio.value); });
      });
      $("ws-reload-card").addEventListener("click", function () {
        showCard(JSON.parse($("ws-conflict").dataset.current));
        $("ws-save-status").textContent = "Reloaded: the current version.";
      });
      if (card) showCard(card);
    }

    // --- keyboard --------------------------------------------------------------------------------
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target.closest && target.closest("input, textarea, select");
      if (event.key === "Escape") { if (typing) target.blur(); else closePopover(); return; }
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "/") { event.preventDefault(); find.focus(); find.select(); }
      else if (event.key === "n") { go(hit + 1, true); }
      else if (event.key === "p") { go(hit - 1, true); }
      else if (event.key === "c" && popover && !popover.hidden) {
        event.preventDefault();
        var box = popover.querySelector(".ws-code");
        (box || $("ws-apply-codes")).focus();
      } else if (event.key === "a" && popover && !popover.hidden) {
        event.preventDefault();
        $("ws-attach-context").focus();
      }
    });

    window.CMOWorkspace = { codePoints: codePoints, offsetOf: offsetOf };
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
