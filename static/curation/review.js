// The configuration's change page: a comment form posts on its own, so with unsaved edits in the
// change form it asks first (the workflow buttons are part of the change form and save them).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("cmoconfiguration_form");
    if (!form) { return; }
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    document.querySelectorAll("form.comment-form").forEach(function (commentForm) {
      commentForm.addEventListener("submit", function (event) {
        if (dirty && !window.confirm("You have unsaved edits to this configuration. Post the comment and lose them? " +
                                     "(Cancel, then Save, to keep them.)")) {
          event.preventDefault();
        }
      });
    });
  });
})();
