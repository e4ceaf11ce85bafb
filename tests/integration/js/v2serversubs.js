// centrifuge-js 5.8.0 (unchanged, the npm alias centrifuge5) under node, with
// the `ws` package as its WebSocket: server-side subscriptions from the
// connection token's `subs` claim and their recovery after a reconnect.
// argv: <websocket url> <json|protobuf> <connection token>.  Talks with the
// test one JSON line at a time on stdout, reading "go" lines on stdin:
// {"subscribed": ...} when the server-side subscription is made, then
// {"got": n} per publication, {"away": code} when the server disconnects it,
// {"back": ...} once it is subscribed again; at the end what it saw.
"use strict";
const WebSocket = require("ws");
const readline = require("readline");

const { sdk } = require("./v2sdk");

const [url, format, token] = process.argv.slice(2);
const { Centrifuge, decode } = sdk(format);
const say = (value) => process.stdout.write(JSON.stringify(value) + "\n");

const client = new Centrifuge(url, {
  websocket: WebSocket, token, timeout: 5000, minReconnectDelay: 2000, maxReconnectDelay: 2000,
});
const seen = { publications: [], subscribed: [] };
client.on("subscribed", (ctx) => {
  const event = { channel: ctx.channel, recoverable: ctx.recoverable, wasRecovering: ctx.wasRecovering,
                  recovered: ctx.recovered, data: ctx.data === undefined ? null : decode(ctx.data) };
  seen.subscribed.push(event);
  say(seen.subscribed.length === 1 ? { subscribed: event } : { back: event });
});
client.on("publication", (ctx) => {
  seen.publications.push({ channel: ctx.channel, data: decode(ctx.data), offset: ctx.offset });
  say({ got: seen.publications.length });
});
client.on("connecting", (ctx) => { if (seen.subscribed.length > 0) say({ away: ctx.code }); });
client.connect();

const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 40000);
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line === "done") {
    clearTimeout(timer);
    client.disconnect();
    say(seen);
    process.exit(0);
  }
});
