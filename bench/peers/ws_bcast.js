// Peer: Node `ws` 8.23.0's plain broadcast (the README's "broadcast to all
// connected clients": client.send(data) for every open client).
//   node bench/peers/ws_bcast.js <port>
"use strict";
const { WebSocketServer, WebSocket } = require("ws");

const port = parseInt(process.argv[2], 10);
const wss = new WebSocketServer({ host: "127.0.0.1", port, perMessageDeflate: false });
wss.on("connection", (ws) => {
  ws.on("message", (data, isBinary) => {
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    }
  });
});
