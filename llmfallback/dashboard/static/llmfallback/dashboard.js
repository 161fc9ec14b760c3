// The dashboard without a full reload: confirm() before actions, a ticking countdown,
// and fresh figures from data.json every few seconds. Everything works without it.
(function () {
  "use strict";
  var root = document.getElementById("dashboard");

  // Actions: the server asks for confirmation on a page of its own unless confirm=yes is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (!question) return;
    if (!window.confirm(question)) { event.preventDefault(); return; }
    // Disabling the last enabled provider: asked again, since nothing could answer after it.
    var again = form.getAttribute("data-confirm-again");
    if (again && !window.confirm(again)) { event.preventDefault(); return; }
    function yes(name) {
      if (form.querySelector("input[name=" + name + "]")) return;
      var input = document.createElement("input");
      input.type = "hidden"; input.name = name; input.value = "yes";
      form.appendChild(input);
    }
    yes("confirm");
    if (again) yes("confirm_last");
  });

  // A wide table scrolls sideways; its hint shows only while it does (the CSS shows it on
  // narrow screens when this script does not run).
  function markOverflow() {
    document.querySelectorAll(".scroll-wrap").forEach(function (wrap) {
      var box = wrap.querySelector(".scroll");
      wrap.dataset.overflow = box && box.scrollWidth > box.clientWidth + 1 ? "yes" : "no";
    });
  }
  window.addEventListener("resize", markOverflow);
  markOverflow();

  if (!root) return;

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function format(seconds) {
    var s = Math.max(0, Math.ceil(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s = s % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  // Deadlines are computed from "seconds remaining" so a skewed client clock does not matter.
  var expired = false;
  function arm(scope) {
    scope.querySelectorAll(".countdown[data-remaining]").forEach(function (el) {
      el.dataset.deadline = Date.now() + parseFloat(el.dataset.remaining) * 1000;
    });
  }
  function tick() {
    root.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = (parseFloat(el.dataset.deadline) - Date.now()) / 1000;
      el.textContent = format(left);
      if (left <= 0 && !el.dataset.done) { el.dataset.done = "1"; expired = true; }
    });
    if (expired) { expired = false; refresh(); }
  }

  function replaceCards(cards, order) {
    var list = document.getElementById("cards");
    var busy = list.contains(document.activeElement);
    order.forEach(function (name) {
      var html = cards[name];
      var old = document.getElementById("card-" + name);
      if (!old) { return; }
      if (!(busy && old.contains(document.activeElement))) {
        old.outerHTML = html;
      }
      list.appendChild(document.getElementById("card-" + name).parentNode); // follow the priority order
    });
    arm(list);
  }

  var pending = false;
  function refresh() {
    if (pending || document.hidden) return;
    pending = true;
    fetch(root.dataset.src, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        ["summary", "charts", "errors", "escalations", "audit"].forEach(function (id) {
          var el = document.getElementById(id);
          if (el && !el.contains(document.activeElement)) el.innerHTML = data.html[id];
        });
        replaceCards(data.html.cards, data.providers.map(function (p) { return p.name; }));
        markOverflow();
        root.dataset.updated = data.timestamp;
      })
      .catch(function () { /* keep the last figures; the next poll tries again */ })
      .then(function () { pending = false; });
  }

  arm(root);
  setInterval(tick, 1000);
  setInterval(refresh, parseInt(root.dataset.interval, 10) || 5000);
})();
