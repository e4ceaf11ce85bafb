// centrifuge-js 2.8.5 (npm alias centrifuge2) under node: connects to a real
// sockhub's /connection/websocket (protocol v1, JSON or its protobuf build),
// subscribes to "news", prints {"ready":true}, then prints the data of the
// first <count> publications it receives (and any more within 300 ms), as one
// JSON array.  argv: <websocket url> <json|protobuf> <connection token> <count>.
"use strict";
const WebSocket = require("ws");

const [url, format, token, count] = process.argv.slice(2);
const protobuf = format === "protobuf";
const Centrifuge = protobuf ? require("centrifuge2/dist/centrifuge.protobuf") : require("centrifuge2");
const decode = (data) => (protobuf ? JSON.parse(new TextDecoder().decode(data)) : data);

const seen = [];
const client = new Centrifuge(url, { websocket: WebSocket, timeout: 5000 });
client.setToken(token);
const timer = setTimeout(() => { console.error("timeout", JSON.stringify(seen)); process.exit(2); }, 30000);
const sub = client.subscribe("news", {
  publish: (ctx) => {
    seen.push(decode(ctx.data));
    if (seen.length === Number(count)) {
      setTimeout(() => {  // anything duplicated would have come by now
        clearTimeout(timer);
        process.stdout.write(JSON.stringify(seen) + "\n");
        client.disconnect();
        process.exit(0);
      }, 300);
    }
  },
});
sub.on("subscribe", () => process.stdout.write(JSON.stringify({ ready: true }) + "\n"));
client.connect();
