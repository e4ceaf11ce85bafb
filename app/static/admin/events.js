// sockhub admin page: the live events of every node (connects, disconnects,
// subscribes, unsubscribes, publishes), pushed over the admin socket in
// batches ({node, name, dropped, events: [[t_ms, kind, channel, user, client,
// data], ...]}). Bounded: the last KEEP events are kept (for the filter) and
// at most SHOWN rows drawn. Pause stops drawing (and counts what it skipped);
// the filter keeps the events whose channel contains its text.
(function () {
  "use strict";

  var KEEP = 500;
  var SHOWN = 200;
  var state = { kept: [], paused: false, skipped: 0, dropped: 0, filter: "", received: 0 };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // never innerHTML: data comes from clients
    return node;
  }

  function matches(event) {
    return !state.filter || event.channel.indexOf(state.filter) >= 0;
  }

  function row(event) {
    var tr = el("tr", "event-" + event.kind);
    tr.dataset.kind = event.kind;
    tr.dataset.channel = event.channel;
    tr.appendChild(el("td", "muted", new Date(event.t).toLocaleTimeString()));
    tr.appendChild(el("td", "muted", event.node));
    tr.appendChild(el("td", "kind", event.kind));
    tr.appendChild(el("td", "channel", event.channel));
    tr.appendChild(el("td", "", event.user));
    tr.appendChild(el("td", "data", event.data));
    return tr;
  }

  function render() {
    var body = $("events"), shown = 0;
    body.textContent = "";
    for (var i = state.kept.length - 1; i >= 0 && shown < SHOWN; i--) {  // newest first
      if (matches(state.kept[i])) {
        body.appendChild(row(state.kept[i]));
        shown++;
      }
    }
    showStatus(shown);
  }

  function showStatus(shown) {
    var parts = [];
    if (shown !== undefined) parts.push(shown + " shown");
    parts.push(state.received + " received");
    if (state.dropped) parts.push(state.dropped + " dropped (too many at once)");
    if (state.paused) parts.push("paused: " + state.skipped + " not shown");
    $("events-status").textContent = parts.join(" · ");
  }

  function add(batch) {
    state.dropped += batch.dropped || 0;
    state.received += batch.events.length;
    if (state.paused) {
      state.skipped += batch.events.length;
      showStatus();
      return;
    }
    batch.events.forEach(function (e) {
      state.kept.push({ t: e[0], kind: e[1], channel: e[2], user: e[3], client: e[4], data: e[5],
                        node: batch.name });
    });
    if (state.kept.length > KEEP) state.kept.splice(0, state.kept.length - KEEP);
    render();
  }

  function lost(count) {
    state.dropped += count;
    showStatus();
  }

  function togglePause() {
    state.paused = !state.paused;
    state.skipped = 0;
    var button = $("events-pause");
    button.textContent = state.paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(state.paused));
    if (state.paused) showStatus(); else render();
  }

  $("events-pause").addEventListener("click", togglePause);
  $("events-filter").addEventListener("input", function () {
    state.filter = this.value.trim();
    render();
  });

  window.SockhubEvents = { add: add, lost: lost };
})();
