// centrifuge-js 5.8.0 (unchanged, the npm alias centrifuge5) under node with
// its `headers` option (headers emulation: sent in ConnectRequest.headers),
// against a sockhub whose connect and rpc hooks ask the test's backend.
// argv: <websocket url> <json|protobuf>.  Connects without a token (the
// connect hook), calls rpc "who" (the rpc hook), then setHeaders() and
// reconnects: prints one JSON object with what the client saw.
"use strict";
const WebSocket = require("ws");

const { sdk, first, report } = require("./v2sdk");

const [url, format] = process.argv.slice(2);
const { Centrifuge, encode, decode } = sdk(format);

async function main() {
  const client = new Centrifuge(url, {
    websocket: WebSocket, timeout: 5000,
    headers: { "X-Token": "abc-" + format, "X-Other": "not listed" },
  });
  let connected = first(client, "connected");
  client.connect();
  const seen = { client: (await connected).client };
  seen.rpc = decode((await client.rpc("who", encode({}))).data);
  client.disconnect();
  client.setHeaders({ "X-Token": "second" });
  connected = first(client, "connected");
  client.connect();
  seen.again = (await connected).client;
  client.disconnect();
  return seen;
}

report(main());
