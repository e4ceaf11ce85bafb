// centrifuge-js 5.8.0 (unchanged, the npm alias centrifuge5) under node,
// with the `ws` package as its WebSocket, against the codec peer of
// tests/dialects/v2/peer.py.  argv: <websocket url> <json|protobuf>.
// Runs one session through every client call and prints one JSON object
// with what the client saw; exits 0 when the session ran to its end.
"use strict";
const WebSocket = require("ws");

const [url, format] = process.argv.slice(2);
const protobuf = format === "protobuf";
const { Centrifuge } = protobuf ? require("centrifuge5/build/protobuf") : require("centrifuge5");

// Data in protobuf mode is bytes; the report shows it as text either way.
const encode = (value) => (protobuf ? new TextEncoder().encode(JSON.stringify(value)) : value);
const decode = (data) => (protobuf ? JSON.parse(new TextDecoder().decode(data)) : data);
// Absent fields as null in both modes (protobufjs gives empty maps, JSON nothing).
const info = (i) => (i ? { user: i.user, client: i.client, connInfo: i.connInfo ? decode(i.connInfo) : null } : null);
const tags = (t) => (t && Object.keys(t).length ? t : null);
const pub = (ctx) => ({ channel: ctx.channel, offset: ctx.offset, data: decode(ctx.data), info: info(ctx.info), tags: tags(ctx.tags) });
const first = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

async function session() {
  const seen = { publications: [], serverPublications: [], joins: [], leaves: [] };
  const client = new Centrifuge(url, { websocket: WebSocket, token: "eyJ.t.s", data: encode({ x: 1 }), timeout: 5000 });
  client.on("publication", (ctx) => seen.serverPublications.push(pub(ctx)));
  client.on("subscribed", (ctx) => { seen.serverSubscribed = { channel: ctx.channel, recoverable: ctx.recoverable, streamPosition: ctx.streamPosition }; });
  // A subscription made before connect: its subscribe shares connect's frame.
  const early = client.newSubscription("early");
  const earlySubscribed = first(early, "subscribed");
  early.subscribe();
  const connected = first(client, "connected");
  client.connect();
  const ctx = await connected;
  seen.connected = { client: ctx.client, data: decode(ctx.data), transport: ctx.transport };
  seen.early = (await earlySubscribed).channel;

  const sub = client.newSubscription("news", { recoverable: true, positioned: true, joinLeave: true });
  sub.on("publication", (c) => seen.publications.push(pub(c)));
  sub.on("join", (c) => seen.joins.push(info(c.info)));
  sub.on("leave", (c) => seen.leaves.push(info(c.info)));
  const subscribed = first(sub, "subscribed");
  sub.subscribe();
  const subCtx = await subscribed;
  seen.subscribed = { channel: subCtx.channel, recoverable: subCtx.recoverable, streamPosition: subCtx.streamPosition };

  await client.publish("news", encode({ x: 1 }));
  const presence = await client.presence("news");
  seen.presence = Object.fromEntries(Object.entries(presence.clients).map(([k, v]) => [k, info(v)]));
  const stats = await client.presenceStats("news");
  seen.presenceStats = { numClients: stats.numClients, numUsers: stats.numUsers };
  const history = await client.history("news", { limit: 10, since: { offset: 2, epoch: "e1" }, reverse: true });
  seen.history = { offsets: history.publications.map((p) => p.offset), first: decode(history.publications[0].data),
                   offset: history.offset, epoch: history.epoch };
  seen.rpc = decode((await client.rpc("echo", encode({ x: 1 }))).data);
  try {
    await client.rpc("fail", encode({}));
  } catch (err) {
    seen.rpcError = { code: err.code, message: err.message };
  }
  const unsubscribed = first(sub, "unsubscribed");
  await client.rpc("kick", encode({}));
  const unsubCtx = await unsubscribed;
  seen.unsubscribed = { code: unsubCtx.code, reason: unsubCtx.reason };
  client.disconnect();
  return seen;
}

const timer = setTimeout(() => { console.error("timed out"); process.exit(2); }, 20000);
session().then((seen) => {
  clearTimeout(timer);
  console.log(JSON.stringify(seen));
  process.exit(0);
}, (err) => {
  console.error("failed:", err && (err.stack || JSON.stringify(err)));
  process.exit(1);
});
