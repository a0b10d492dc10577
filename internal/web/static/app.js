// Postbode's pages work without script; this file makes some of them
// nicer: the Test button's result inline, copy buttons, header rows, the
// workspace switcher, and progress on long actions. No inline script: the
// Content-Security-Policy allows this file only.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // The Test button posts with fetch and shows the result in place.
  document.querySelectorAll("form[data-inline]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var target = document.getElementById(form.dataset.inline);
      var button = form.querySelector("button");
      button.disabled = true;
      target.setAttribute("aria-busy", "true");
      target.textContent = "Sending…";
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { "X-Postbode-Fetch": "1" },
        credentials: "same-origin",
      })
        .then(function (resp) {
          return resp.text().then(function (text) {
            if (resp.status === 401) {
              throw new Error("Your session has ended; reload the page to log in again.");
            }
            if (!resp.ok || resp.redirected) {
              throw new Error("The test could not be sent (HTTP " + resp.status + ").");
            }
            return text;
          });
        })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          target.replaceChildren.apply(target, Array.from(doc.body.childNodes));
          // The request just made belongs in the page's list too.
          var list = form.dataset.refresh && document.getElementById(form.dataset.refresh);
          if (list) {
            return fetch(location.href, { credentials: "same-origin" })
              .then(function (resp) { return resp.ok ? resp.text() : ""; })
              .then(function (page) {
                var fresh = new DOMParser().parseFromString(page, "text/html").getElementById(list.id);
                if (fresh) list.replaceWith(fresh);
              });
          }
        })
        .catch(function (err) {
          target.textContent = err.message;
        })
        .finally(function () {
          button.disabled = false;
          target.removeAttribute("aria-busy");
          target.focus();
        });
    });
  });

  // Copy buttons copy the text of the element they name.
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = document.getElementById(button.dataset.copy).textContent;
      navigator.clipboard.writeText(text).then(function () {
        var label = button.textContent;
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = label; }, 1500);
      });
    });
  });

  // "Add a header" adds an empty row of name and value.
  document.querySelectorAll("button[data-add-row]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = document.getElementById(button.dataset.addRow);
      var last = rows.querySelector(".header-row:last-child");
      var row = last.cloneNode(true);
      row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      rows.appendChild(row);
      row.querySelector("input").focus();
    });
  });

  // The workspace switcher opens the chosen workspace at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    var go = select.form.querySelector("button");
    if (go) go.hidden = true;
  });

  // Long actions (recover, resend to all) show that they are working.
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      var p = document.getElementById(form.dataset.progress);
      if (p) p.classList.add("on");
    });
  });
});
