// centrifuge-js 5.8.0 (unchanged, the npm alias centrifuge5) under node, with
// the `ws` package as its WebSocket, against a sockhub whose proxy hooks ask
// the test's backend.  argv: <websocket url> <json|protobuf> <allow|refused>.
// allow: connect without a token (the connect hook), subscribe "px:room"
// (the subscribe hook), publish (the publish hook replaces the data), rpc.
// refused: the connect hook disconnects; what the client's events said.
// Prints one JSON object: what the client saw.
"use strict";
const WebSocket = require("ws");

const { sdk, first, report } = require("./v2sdk");

const [url, format, mode] = process.argv.slice(2);
const { Centrifuge, encode, decode } = sdk(format);

async function allow() {
  const seen = {};
  const client = new Centrifuge(url, { websocket: WebSocket, data: encode({ from: "js" }), timeout: 5000 });
  const connected = first(client, "connected");
  client.connect();
  const ctx = await connected;
  seen.connectData = decode(ctx.data);
  const sub = client.newSubscription("px:room");
  const subscribed = first(sub, "subscribed");
  sub.subscribe();
  seen.subscribeData = decode((await subscribed).data);
  const publication = first(sub, "publication");
  await sub.publish(encode({ n: 1 }));
  seen.publication = decode((await publication).data);
  seen.rpc = decode((await client.rpc("sum", encode({ a: 1, b: 2 }))).data);
  client.disconnect();
  return seen;
}

async function refused() {
  const client = new Centrifuge(url, { websocket: WebSocket, timeout: 5000 });
  const disconnected = first(client, "disconnected");
  client.connect();
  const ctx = await disconnected;
  return { code: ctx.code, reason: ctx.reason, state: client.state };
}

report(mode === "allow" ? allow() : refused());
