// sockhub admin page: talks to the node only over the admin websocket
// (docs/protocol-1x.md §11). Log in with POST auth/ (password in the body), keep the
// token in sessionStorage, "connect" with it (watch and events on), then poll
// stats/node/series for the figures and charts (charts.js) and show the live
// messages and events (events.js) pushed by the node.
(function () {
  "use strict";

  var TOKEN_KEY = "sockhub.admin.token";
  var REFRESH_MS = 2000;
  var RECONNECT_MS = 2000;
  var LIVE_MAX = 100;

  // Which form fields each API method takes.
  var FIELDS = {
    publish: ["channel", "data"],
    broadcast: ["channels", "data"],
    presence: ["channel"],
    history: ["channel"],
    channels: [],
    unsubscribe: ["user", "channel"],
    disconnect: ["user"],
    subscribe: ["user", "channel"],
    history_remove: ["channel"],
    stats: [],
    node: []
  };

  // Figures of a node card: label, metric names (first present wins), format.
  var FIGURES = [
    ["Connections", ["node_num_clients"], formatInt],
    ["Unique users", ["node_num_unique_clients"], formatInt],
    ["Channels", ["node_num_channels"], formatInt],
    ["Subscriptions", ["node_num_subscriptions"], formatInt],
    ["Messages in", ["node_num_client_msg_published"], formatInt],
    ["Messages out", ["client_num_msg_queued", "client_num_msg_sent"], formatInt],
    ["Uptime", ["node_uptime_seconds"], formatDuration],
    ["Memory", ["node_memory_sys", "process_resident_memory_bytes"], formatBytes]
  ];

  var $ = function (id) { return document.getElementById(id); };
  var state = { ws: null, nextUid: 1, waiting: {}, refreshTimer: null, reconnectTimer: null, loggedIn: false,
                cards: {} };

  // ---- formatting -------------------------------------------------------
  function formatInt(v) { return Number(v).toLocaleString("en-US"); }
  function formatBytes(v) {
    var units = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    return (i ? v.toFixed(1) : String(v)) + " " + units[i];
  }
  function formatDuration(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    if (d) return d + "d " + h + "h";
    if (h) return h + "h " + m + "m";
    if (m) return m + "m " + (s % 60) + "s";
    return s + "s";
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;  // never innerHTML: data comes from clients
    return node;
  }

  // ---- the admin socket -------------------------------------------------
  function socketUrl() {
    var url = new URL("socket", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  // Send one command; resolves with its reply item ({method, error, body}).
  function call(method, params) {
    return new Promise(function (resolve, reject) {
      if (!state.ws || state.ws.readyState !== WebSocket.OPEN) { reject(new Error("not connected")); return; }
      var uid = String(state.nextUid++);
      state.waiting[uid] = resolve;
      state.ws.send(JSON.stringify({ uid: uid, method: method, params: params || {} }));
    });
  }

  function onSocketMessage(event) {
    var payload = JSON.parse(event.data);
    if (Array.isArray(payload)) {  // replies
      payload.forEach(function (item) {
        var resolve = state.waiting[item.uid];
        delete state.waiting[item.uid];
        if (resolve) resolve(item);
      });
    } else if (payload.method === "message") {  // live push
      addLiveMessage(payload.body);
    } else if (payload.method === "events") {
      window.SockhubEvents.add(payload.body);
    } else if (payload.method === "events_lost") {
      window.SockhubEvents.lost(payload.body.lost);
    }
  }

  function openSocket() {
    clearTimeout(state.reconnectTimer);
    var ws = new WebSocket(socketUrl());
    state.ws = ws;
    ws.onmessage = onSocketMessage;
    ws.onopen = function () {
      var token = sessionStorage.getItem(TOKEN_KEY) || "";
      call("connect", { token: token, watch: true, events: true }).then(onConnected);
    };
    ws.onclose = function (event) {
      if (state.ws !== ws) return;
      state.ws = null;
      state.waiting = {};
      setStatus(false);
      clearInterval(state.refreshTimer);
      if (event.code === 1008 && event.reason === "unauthorized") {
        var hadToken = !!sessionStorage.getItem(TOKEN_KEY);
        sessionStorage.removeItem(TOKEN_KEY);
        showLogin(hadToken ? "Your session has ended: log in again." : "");
      } else {
        if (!state.loggedIn) showLogin("Cannot reach the node: retrying…");
        state.reconnectTimer = setTimeout(openSocket, RECONNECT_MS);
      }
    };
  }

  function onConnected() {
    state.loggedIn = true;
    setStatus(true);
    $("login").hidden = true;
    $("dashboard").hidden = false;
    call("info").then(function (item) {
      if (item.error) return;
      var data = item.body.data;
      $("server-info").textContent = "sockhub " + data.version + " · " + data.engine + " engine";
      // nobody logged in with --insecure_admin: there is nothing to log out of
      $("logout").hidden = !!data.config.insecure_admin;
    });
    refresh();
    clearInterval(state.refreshTimer);
    state.refreshTimer = setInterval(refresh, REFRESH_MS);
  }

  function setStatus(online) {
    var status = $("status");
    status.textContent = online ? "connected" : "offline";
    status.className = "status " + (online ? "status-on" : "status-off");
  }

  // ---- login ------------------------------------------------------------
  function showLogin(message) {
    state.loggedIn = false;
    $("dashboard").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("password").focus();
    if (!message) explainDisabledLogin();
  }

  // Before anyone types: a node without admin_password/admin_secret says what to set.
  function explainDisabledLogin() {
    fetch("auth/", {method: "GET", cache: "no-store"}).then(function (resp) {
      return resp.json();
    }).then(function (data) {
      if (data.login === "disabled" && !$("login-error").textContent) $("login-error").textContent = data.error;
    }).catch(function () { /* the socket's retry says it when the node is away */ });
  }

  function login(event) {
    event.preventDefault();
    $("login-error").textContent = "";
    var body = new URLSearchParams({ password: $("password").value });
    fetch("auth/", { method: "POST", body: body }).then(function (resp) {
      return resp.json().then(function (data) {
        if (!resp.ok || !data.token) throw new Error(data.error || ("login failed: HTTP " + resp.status));
        sessionStorage.setItem(TOKEN_KEY, data.token);
        $("password").value = "";
        openSocket();
      });
    }).catch(function (err) {
      $("login-error").textContent = err.message;
    });
  }

  function logout() {
    sessionStorage.removeItem(TOKEN_KEY);
    state.loggedIn = false;
    clearInterval(state.refreshTimer);
    var ws = state.ws;
    state.ws = null;  // so its onclose does not reconnect
    if (ws) ws.close();
    setStatus(false);
    showLogin("");
  }

  // ---- nodes ------------------------------------------------------------
  function refresh() {
    Promise.all([call("stats"), call("node"), call("series")]).then(function (items) {
      var stats = items[0], self = items[1], series = items[2];
      var nodes = stats.error ? [] : stats.body.data.nodes.slice();
      if (!self.error) {
        // This node's raw totals are fresher than the interval snapshot.
        var mine = self.body.data;
        nodes = nodes.filter(function (n) { return n.uid !== mine.uid; });
        nodes.unshift(mine);
      }
      renderNodes(nodes, series.error ? [] : series.body.data.nodes);
      $("nodes-updated").textContent = "updated " + new Date().toLocaleTimeString();
    }).catch(function () { /* socket closed meanwhile: onclose handles it */ });
  }

  function metric(metrics, names) {
    for (var i = 0; i < names.length; i++) {
      if (metrics && metrics[names[i]] !== undefined) return metrics[names[i]];
    }
    return undefined;
  }

  // One card per node, kept while the node is listed (its charts live in it).
  function nodeCard(node) {
    var card = el("div", "card node");
    card.dataset.uid = node.uid;
    var name = el("div", "node-name", node.name);
    name.appendChild(el("span", "muted", node.uid));
    card.appendChild(name);
    var figures = el("dl", "figures");
    card.appendChild(figures);
    var charts = el("div", "charts");
    card.appendChild(charts);
    return { card: card, figures: figures, charts: new window.SockhubCharts.NodeCharts(charts) };
  }

  function renderFigures(box, node) {
    box.textContent = "";
    FIGURES.forEach(function (fig) {
      var value = metric(node.metrics, fig[1]);
      if (fig[0] === "Uptime" && value === undefined && node.started_at) value = Date.now() / 1000 - node.started_at;
      var cell = el("div");
      cell.dataset.figure = fig[0];
      cell.appendChild(el("dd", "", value === undefined ? "–" : fig[2](value)));
      cell.appendChild(el("dt", "", fig[0]));
      box.appendChild(cell);
    });
  }

  function renderNodes(nodes, series) {
    var box = $("nodes"), cards = state.cards, listed = {}, samples = {};
    series.forEach(function (s) { samples[s.uid] = s.samples; });
    nodes.forEach(function (node) {
      listed[node.uid] = true;
      var entry = cards[node.uid] || (cards[node.uid] = nodeCard(node));
      box.appendChild(entry.card);  // (re)placed in the order of the list: this node first
      renderFigures(entry.figures, node);
      entry.charts.update(samples[node.uid] || []);
    });
    Object.keys(cards).forEach(function (uid) {
      if (listed[uid]) return;
      cards[uid].charts.destroy();
      box.removeChild(cards[uid].card);
      delete cards[uid];
    });
  }

  // ---- actions ----------------------------------------------------------
  function showFields() {
    var wanted = FIELDS[$("method").value];
    document.querySelectorAll("#action-form [data-field]").forEach(function (row) {
      row.hidden = wanted.indexOf(row.dataset.field) < 0;
    });
  }

  function actionParams(method) {
    var params = {};
    FIELDS[method].forEach(function (field) {
      var value = $(field).value.trim();
      if (field === "data") {
        params.data = JSON.parse(value);  // a SyntaxError is shown as the reply
      } else if (field === "channels") {
        params.channels = value.split(",").map(function (c) { return c.trim(); }).filter(Boolean);
      } else if (value || field !== "channel" || method !== "unsubscribe") {
        params[field] = value;  // unsubscribe without a channel: from all of them
      }
    });
    return params;
  }

  function sendAction(event) {
    event.preventDefault();
    var method = $("method").value, reply = $("reply");
    var params;
    try {
      params = actionParams(method);
    } catch (err) {
      reply.className = "reply failed";
      reply.textContent = "Data is not valid JSON: " + err.message;
      return;
    }
    call(method, params).then(function (item) {
      reply.className = "reply " + (item.error ? "failed" : "ok");
      reply.textContent = JSON.stringify(item, null, 2);
    }, function (err) {
      reply.className = "reply failed";
      reply.textContent = err.message;
    });
  }

  // ---- live messages ----------------------------------------------------
  function addLiveMessage(message) {
    var list = $("live");
    var item = el("li");
    var meta = el("div", "meta");
    meta.appendChild(el("span", "", new Date().toLocaleTimeString()));
    meta.appendChild(el("span", "channel", message.channel));
    if (message.info && message.info.user) meta.appendChild(el("span", "", "user " + message.info.user));
    item.appendChild(meta);
    item.appendChild(el("pre", "", JSON.stringify(message.data, null, 2)));
    list.insertBefore(item, list.firstChild);
    while (list.children.length > LIVE_MAX) list.removeChild(list.lastChild);
    $("live-empty").hidden = true;
  }

  // ---- start ------------------------------------------------------------
  $("login-form").addEventListener("submit", login);
  $("action-form").addEventListener("submit", sendAction);
  $("method").addEventListener("change", showFields);
  $("logout").addEventListener("click", logout);
  window.addEventListener("resize", function () {
    Object.keys(state.cards).forEach(function (uid) { state.cards[uid].charts.resize(); });
  });
  showFields();
  // Try the stored token (or none, for --insecure_admin); a refusal shows the form.
  openSocket();
})();
