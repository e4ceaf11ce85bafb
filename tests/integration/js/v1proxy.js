// centrifuge-js 1.5.0 (unchanged, from node_modules) over a raw websocket
// (faye-websocket's W3C-style client as the WebSocket global) against a
// sockhub whose connect hook authenticates it (no token: the client's
// `insecure` flag only lets it connect without one) and whose refresh hook
// its refresh answers.  Its onRefresh gives credentials without a token, as
// an application's refresh endpoint does for such connections.
// argv: <sockhub base url> <seconds to watch>. Prints one JSON event per line.
"use strict";
global.WebSocket = require("faye-websocket").Client;
const Centrifuge = require("centrifuge");

const [base, watch] = process.argv.slice(2);
const log = (type, data) => console.log(JSON.stringify(Object.assign({type, at: Date.now()}, data || {})));

const c = new Centrifuge({
  url: base + "/connection/websocket", insecure: true, refreshInterval: 500,
  onRefresh: (ctx, cb) => { log("refresh"); cb(false, {user: "", timestamp: "", info: ""}); },
});
c.on("error", (err) => log("error", {error: JSON.stringify(err.message || err)}));
c.on("disconnect", (ctx) => log("disconnect", {reason: ctx.reason, reconnect: ctx.reconnect}));
c.on("connect", (ctx) => log("connect", {client: ctx.client}));
c.connect();
setTimeout(() => { log("end", {connected: c.isConnected()}); c.disconnect(); process.exit(0); }, Number(watch) * 1000);
