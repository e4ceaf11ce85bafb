// centrifuge-js 5.8.0 (unchanged, the npm alias centrifuge5) under node, with
// the `ws` package as its WebSocket, against a real sockhub's
// /connection/websocket.  argv: <websocket url> <json|protobuf> <connection
// token> <subscription token of "$room">.  A publication from the 1.x HTTP API
// is awaited on "news" (the test publishes it once "ready" is printed).
// Prints one JSON object per line: {"ready":true}, then what the client saw.
"use strict";
const WebSocket = require("ws");

const { sdk, first, report } = require("./v2sdk");

const [url, format, token, roomToken] = process.argv.slice(2);
const { Centrifuge, encode, decode } = sdk(format);

async function session() {
  const seen = { publications: [] };
  const client = new Centrifuge(url, { websocket: WebSocket, token, timeout: 5000 });
  // made before connect: its subscribe shares connect's frame
  const sub = client.newSubscription("news");
  sub.on("publication", (c) => seen.publications.push({ data: decode(c.data), user: c.info ? c.info.user : null }));
  const subscribed = first(sub, "subscribed");
  sub.subscribe();
  const connected = first(client, "connected");
  client.connect();
  seen.connected = { transport: (await connected).transport };
  await subscribed;
  const room = client.newSubscription("$room", { token: roomToken });
  const roomSubscribed = first(room, "subscribed");
  room.subscribe();
  await roomSubscribed;
  seen.room = true;

  const fromApi = first(sub, "publication");
  process.stdout.write(JSON.stringify({ ready: true }) + "\n");
  await fromApi;
  const own = first(sub, "publication");
  await sub.publish(encode({ from: "js" }));
  await own;
  const presence = await sub.presence();
  seen.presence = Object.values(presence.clients).map((c) => c.user);
  const stats = await sub.presenceStats();
  seen.presenceStats = { numClients: stats.numClients, numUsers: stats.numUsers };
  const history = await sub.history({ limit: 1, reverse: true });
  seen.history = history.publications.map((p) => decode(p.data));
  try {
    await client.rpc("anything", encode({}));
  } catch (err) {
    seen.rpcError = { code: err.code, message: err.message };
  }
  client.disconnect();
  return seen;
}

report(session());
