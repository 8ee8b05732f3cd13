/* Coding page: turn a selection in the source text into character offsets and open the excerpt form.
 *
 * Offsets are counted in Unicode code points, as Python's str indices and EvidenceExcerpt.clean count
 * them. The DOM text of #source-text equals the source text exactly (the server renders it that way),
 * so the offset of a boundary is the code-point length of the text from the start of #source-text to
 * it: a Range's toString() gives that text (raw Text-node data, no CSS transformations), and iterating
 * a string with for...of walks code points, so an astral character (an emoji) counts once, not as two
 * UTF-16 code units.
 */
(function () {
  "use strict";

  // Keep GET URLs well under common request-line limits; beyond this the server derives the text.
  var MAX_TEXT_URL_CHARS = 1800;

  function codePointLength(s) {
    var n = 0;
    for (var _ of s) n++; // eslint-disable-line no-unused-vars
    return n;
  }

  function init() {
    var root = document.getElementById("source-text");
    if (!root) return;
    var form = document.getElementById("create-excerpt-form");
    var button = document.getElementById("create-excerpt");
    var trim = document.getElementById("trim-whitespace");
    var out = {
      start: document.getElementById("selection-start"),
      end: document.getElementById("selection-end"),
      length: document.getElementById("selection-length"),
      preview: document.getElementById("selection-preview"),
      warning: document.getElementById("selection-warning"),
    };
    var current = null;

    function offsetAt(container, offset) {
      var r = document.createRange();
      r.setStart(root, 0);
      r.setEnd(container, offset);
      return codePointLength(r.toString());
    }

    // The selection clipped to #source-text, as {start, end, text} in code points, or null.
    function selectedSpan() {
      var sel = window.getSelection();
      if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
      var range = sel.getRangeAt(0).cloneRange();
      var whole = document.createRange();
      whole.selectNodeContents(root);
      if (range.compareBoundaryPoints(Range.END_TO_START, whole) >= 0) return null; // starts after the text
      if (range.compareBoundaryPoints(Range.START_TO_END, whole) <= 0) return null; // ends before the text
      if (range.compareBoundaryPoints(Range.START_TO_START, whole) < 0) range.setStart(root, 0);
      if (range.compareBoundaryPoints(Range.END_TO_END, whole) > 0) range.setEnd(root, root.childNodes.length);
      var text = range.toString();
      if (!text) return null;
      var start = offsetAt(range.startContainer, range.startOffset);
      var span = { start: start, end: start + codePointLength(text), text: text };
      if (trim && trim.checked) {
        var lead = text.length - text.replace(/^\s+/, "").length;
        var trimmedStart = text.slice(lead);
        var trimmed = trimmedStart.replace(/\s+$/, "");
        if (!trimmed) return null;
        span.start = start + codePointLength(text.slice(0, lead));
        span.text = trimmed;
        span.end = span.start + codePointLength(trimmed);
      }
      return span;
    }

    function overlaps(span) {
      var marks = root.querySelectorAll("mark.excerpt");
      for (var i = 0; i < marks.length; i++) {
        var a = Number(marks[i].dataset.start), b = Number(marks[i].dataset.end);
        if (a === span.start && b === span.end) return "exact";
        if (a < span.end && b > span.start) return "overlap";
      }
      return null;
    }

    function update() {
      current = selectedSpan();
      if (!current) {
        out.start.textContent = out.end.textContent = out.length.textContent = "–";
        out.preview.textContent = "Nothing selected.";
        out.warning.hidden = true;
        if (button) button.disabled = true;
        return;
      }
      out.start.textContent = current.start;
      out.end.textContent = current.end;
      out.length.textContent = current.end - current.start;
      var shown = current.text.length > 400 ? current.text.slice(0, 400) + "…" : current.text;
      out.preview.textContent = shown;
      var o = overlaps(current);
      out.warning.hidden = !o;
      out.warning.textContent = o === "exact" ? "An excerpt with exactly this span already exists."
        : o ? "This selection overlaps an existing excerpt." : "";
      if (button) button.disabled = false;
    }

    document.addEventListener("selectionchange", update);
    if (trim) trim.addEventListener("change", update);

    if (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var span = current || selectedSpan();
        if (!span) return;
        // Navigate with URLSearchParams rather than submitting the form: form submission would turn
        // every LF in the text into CRLF.
        var params = new URLSearchParams();
        params.set("source", root.dataset.sourceId);
        params.set("start", String(span.start));
        params.set("end", String(span.end));
        if (encodeURIComponent(span.text).length <= MAX_TEXT_URL_CHARS) params.set("text", span.text);
        params.set("_coding", "1");
        window.location.href = form.getAttribute("action") + "?" + params.toString();
      });
    }

    // Clicking a highlighted passage selects the excerpt in the list.
    root.addEventListener("click", function (event) {
      var mark = event.target.closest("mark.excerpt");
      if (!mark || !window.getSelection().isCollapsed) return;
      var ids = (mark.dataset.excerpts || "").split(" ");
      document.querySelectorAll(".coding-excerpts li.current").forEach(function (li) { li.classList.remove("current"); });
      ids.forEach(function (id) {
        var link = document.querySelector('.coding-excerpts a.jump[data-excerpt="' + id + '"]');
        if (link) link.parentElement.classList.add("current");
      });
    });
    update();
  }

  window.CMOCoding = { codePointLength: codePointLength };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
