// centrifuge-js 2.8.5 (unchanged, the npm alias centrifuge2) under node, with
// the `ws` package as its WebSocket, against a real sockhub's
// /connection/websocket (protocol v1).  argv: <websocket url> <json|protobuf>
// <connection token> <HMAC secret> <api url>.  The subscription token of the
// private channel "$room" is signed here (the app backend's job: JS 2.x asks it
// through onPrivateSubscribe with the client id).  Publications are made through
// the API at <api url> (POST {"method":"publish",...}).  Prints one JSON object:
// what the client saw.
"use strict";
const crypto = require("crypto");
const WebSocket = process.env.V1WRAP ? require(process.env.V1WRAP) : require("ws");

const [url, format, token, secret, apiUrl, apiKey] = process.argv.slice(2);
const protobuf = format === "protobuf";
const Centrifuge = protobuf ? require("centrifuge2/dist/centrifuge.protobuf") : require("centrifuge2");

// the protobuf build carries data as bytes: JSON text in them, as sockhub keeps it
const encode = (value) => (protobuf ? new TextEncoder().encode(JSON.stringify(value)) : value);
const decode = (data) => (protobuf ? JSON.parse(new TextDecoder().decode(data)) : data);
const number = (value) => (value && typeof value === "object" ? value.toNumber() : value);  // protobuf: a Long
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
function jwt(claims) {
  const head = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims);
  return head + "." + crypto.createHmac("sha256", secret).update(head).digest("base64url");
}
const step = (name) => process.stderr.write("step " + name + "\n");  // where a timeout happened
const first = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

async function apiPublish(channel, data) {
  const headers = { "Content-Type": "application/json" };
  if (apiKey) headers.Authorization = "apikey " + apiKey;
  const response = await fetch(apiUrl, {
    method: "POST", headers, body: JSON.stringify({ method: "publish", params: { channel, data } }),
  });
  if (response.status !== 200) throw new Error("api " + response.status);
  const reply = JSON.parse((await response.text()).split("\n")[0]);
  if (reply.error) throw new Error("api " + JSON.stringify(reply.error));
}

async function session() {
  const seen = { publications: [], recovered: [] };
  const options = {
    websocket: WebSocket, timeout: 5000, debug: !!process.env.V1DEBUG, minRetry: 200, maxRetry: 500,
    onPrivateSubscribe: (ctx, cb) => cb({
      status: 200,
      data: { channels: ctx.data.channels.map((channel) => ({ channel, token: jwt({ client: ctx.data.client, channel }) })) },
    }),
  };
  const client = new Centrifuge(url, options);
  client.setToken(token);
  const connected = first(client, "connect");
  client.connect();
  const ctx = await connected;
  seen.connected = { transport: ctx.transport, client: typeof ctx.client };
  step("news");
  const sub = client.subscribe("news", {
    publish: (c) => seen.publications.push({ data: decode(c.data), user: c.info ? c.info.user : null, offset: number(c.offset) }),
  });
  await first(sub, "subscribe");
  step("subscribe");
  const room = client.subscribe("$room");
  await first(room, "subscribe");
  seen.room = true;

  step("fromApi");
  const fromApi = first(sub, "publish");
  await apiPublish("news", { from: "api" });
  await fromApi;
  const own = first(sub, "publish");
  await sub.publish(encode({ from: "js" }));
  await own;
  step("presence");
  const presence = await sub.presence();
  seen.presence = Object.values(presence.presence).map((c) => c.user);
  const stats = await sub.presenceStats();
  seen.presenceStats = stats;
  const history = await sub.history();
  seen.history = history.publications.map((p) => decode(p.data));
  try {
    await client.rpc(encode({}));
  } catch (err) {
    seen.rpcError = { code: err.code, message: err.message };
  }
  step("ping");
  // the ping command as the client's ping timer sends it (each reply must let the dispatch go on: next)
  seen.ping = await new Promise((resolve) => client._call({ method: 7 }).then(
    (ctx) => { if (ctx.next) ctx.next(); resolve(true); },
    (ctx) => { if (ctx.next) ctx.next(); resolve(ctx.error); }));

  // A dropped transport: two publications while away, recovered once and in order.
  step("disconnected");
  const disconnected = first(client, "disconnect");
  const resubscribed = first(sub, "subscribe");
  client._transport.close();
  seen.disconnect = await disconnected;
  step("missed");
  await apiPublish("news", { missed: 1 });
  await apiPublish("news", { missed: 2 });
  step("again");
  const again = await resubscribed;
  seen.resubscribe = { isResubscribe: again.isResubscribe, recovered: again.recovered };
  await new Promise((resolve) => setTimeout(resolve, 300));
  seen.recovered = seen.publications.slice(2).map((p) => p.data);
  seen.offsets = seen.publications.map((p) => p.offset);
  client.disconnect();
  return seen;
}

const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 30000);
session().then((seen) => {
  clearTimeout(timer);
  process.stdout.write(JSON.stringify(seen) + "\n");
  process.exit(0);
}, (err) => { console.error(err); process.exit(1); });
