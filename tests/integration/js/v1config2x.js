// centrifuge-js 2.8.5 (unchanged, the npm alias centrifuge2) under node, with
// the `ws` package as its WebSocket, against a sockhub started with a
// Centrifugo 2.x config file (tests/integration/test_2x_config.py).
// argv: <websocket url> <connection token with a server-side channel>
// <api url> <api key>.  Prints one JSON object: what the clients saw.
"use strict";
const WebSocket = require("ws");
const Centrifuge = require("centrifuge2");

const [url, token, apiUrl, apiKey] = process.argv.slice(2);
const first = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));
const failure = (promise) => promise.then(() => null, (err) => ({ code: err.code, message: err.message }));
const options = { websocket: WebSocket, timeout: 5000, minRetry: 200, maxRetry: 500 };

async function apiPublish(channel, data) {
  const response = await fetch(apiUrl, {
    method: "POST", headers: { "Content-Type": "application/json", Authorization: "apikey " + apiKey },
    body: JSON.stringify({ method: "publish", params: { channel, data } }),
  });
  if (response.status !== 200) throw new Error("api " + response.status);
}

async function connected(client) {
  const ctx = first(client, "connect");
  client.connect();
  return ctx;
}

async function main() {
  const seen = {};
  const anonymous = new Centrifuge(url, options);  // no setToken: client_anonymous
  seen.anonymous = typeof (await connected(anonymous)).client;
  const refused = anonymous.subscribe("srv:other");
  seen.serverSide = await first(refused, "error").then((ctx) => ({ code: ctx.code, message: ctx.message }));
  const news = anonymous.subscribe("news");
  await first(news, "subscribe");
  seen.presence = await failure(news.presence());
  seen.presenceStats = await failure(news.presenceStats());
  seen.history = await failure(news.history());
  anonymous.disconnect();

  const user = new Centrifuge(url, options);
  user.setToken(token);
  const pushed = first(user, "publish");  // a server-side subscription's publication
  await connected(user);
  await apiPublish("srv:feed", { to: "server-side" });
  const publication = await pushed;
  seen.serverSidePublication = { channel: publication.channel, data: publication.data };
  user.disconnect();
  process.stdout.write(JSON.stringify(seen));
}

main().then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.stack || err)); process.exit(1); });
