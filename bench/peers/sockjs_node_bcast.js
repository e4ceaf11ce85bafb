// Peer: sockjs-node 0.3.24's plain broadcast (its own README's "echo" server,
// writing each message to every open connection).
//   node bench/peers/sockjs_node_bcast.js <port>
"use strict";
const http = require("http");
const sockjs = require("sockjs");

const port = parseInt(process.argv[2], 10);
const members = new Set();
const service = sockjs.createServer({ log: () => {} });
service.on("connection", (conn) => {
  members.add(conn);
  conn.on("data", (message) => { for (const m of members) m.write(message); });
  conn.on("close", () => members.delete(conn));
});
const server = http.createServer();
service.installHandlers(server, { prefix: "/bcast" });
server.listen(port, "127.0.0.1");
