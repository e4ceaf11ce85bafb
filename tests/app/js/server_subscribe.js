// centrifuge-js 1.5.0 (unchanged, from node_modules) over a raw websocket
// (faye-websocket's W3C-style client as the WebSocket global) against a real
// sockhub, to check what the client does with the API `subscribe`.
// argv: <sockhub base url> <secret> <user>. Prints one JSON event per line.
"use strict";
const crypto = require("crypto");
const http = require("http");
global.WebSocket = require("faye-websocket").Client;
const Centrifuge = require("centrifuge");

const [base, secret, user] = process.argv.slice(2);
const timestamp = String(Math.floor(Date.now() / 1000));
const token = crypto.createHmac("sha256", secret).update(user + timestamp).digest("hex");
const log = (type, data) => console.log(JSON.stringify(Object.assign({type}, data || {})));

function api(command) {
  const body = JSON.stringify(command);
  const sign = crypto.createHmac("sha256", secret).update(body).digest("hex");
  return new Promise((resolve, reject) => {
    const req = http.request(base + "/api/", {method: "POST",
      headers: {"Content-Type": "application/json", "X-API-Sign": sign}}, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => resolve({status: res.statusCode, body: text}));
    });
    req.on("error", reject);
    req.end(body);
  });
}
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

const c = new Centrifuge({url: base, user, timestamp, token, info: ""});
c.on("error", (err) => log("error", {error: JSON.stringify(err.message || err)}));
c.on("disconnect", (ctx) => log("disconnect", {reason: ctx.reason}));
c.on("connect", async (ctx) => {
  log("connect", {client: ctx.client});
  log("api", await api({method: "subscribe", params: {user, channel: "news"}}));
  await pause(200);
  await api({method: "publish", params: {channel: "news", data: {n: 1}}});  // before the page subscribes
  await pause(200);
  const sub = c.subscribe("news", {
    message: (m) => log("message", {data: m.data}),
    subscribe: (s) => log("subscribe", {channel: s.channel}),
    error: (e) => log("subscribe_error", {error: e.error}),
  });
  await pause(300);
  await api({method: "publish", params: {channel: "news", data: {n: 2}}});
  await pause(300);
  log("done", {subscribed: sub._isSuccess()});
  c.disconnect();
  process.exit(0);
});
c.connect();
