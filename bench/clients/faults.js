// The load client of bench/redis_blip.py (Node + the npm `ws` package): many
// SockJS websocket sessions speaking the Centrifugo 1.x protocol, each
// subscribed to one channel, recording every message it receives.
//
//   node bench/clients/faults.js '<json config>'
//
// Config: urls (node base URLs; client i connects to urls[i % n]), path
// (SockJS prefix, /connection), secret, conns, channels (client i
// subscribes "f<i % channels>"), window (sessions opening at once).
// A session refused as it opens (1013: a node's connection rate limit) is
// opened again after a random pause.  Prints "ready" once every client is
// subscribed; on "stop" on stdin prints one JSON line:
//   {"clients": [{"channel": .., "n": [..], "lat": [..], "closed": null|"<c frame>"}, ..]}
// with the message numbers in arrival order and each one's latency in ms
// (receipt minus the "t" the publisher put in the data: one machine, one clock).
"use strict";

const crypto = require("crypto");
const readline = require("readline");
const WebSocket = require("ws");

const cfg = JSON.parse(process.argv[2]);
const clients = [];

function token(user, timestamp) {
  return crypto.createHmac("sha256", cfg.secret).update(user + timestamp).digest("hex");
}

function open(index) {
  return new Promise((resolve) => {
    const record = clients[index] || (clients[index] = { channel: `f${index % cfg.channels}`, n: [], lat: [],
                                                          closed: null });
    const attempt = () => {
      let ready = false;
      let retried = false;
      const origin = cfg.urls[index % cfg.urls.length].replace(/^http/, "ws");
      const id = `f${index}x${process.pid}x${Math.floor(Math.random() * 1e9)}`;
      const ws = new WebSocket(`${origin}${cfg.path}/000/${id}/websocket`, { perMessageDeflate: false });
      const retry = () => {
        if (ready || retried) return;
        retried = true;
        setTimeout(attempt, 200 + Math.random() * 1000);
      };
      ws.on("error", () => retry());
      ws.on("message", (data) => {
        const frame = data.toString();
        const kind = frame[0];
        if (kind === "o") {
          const user = `u${index}`;
          const timestamp = String(Math.floor(Date.now() / 1000));
          ws.send(JSON.stringify([JSON.stringify([
            { uid: "1", method: "connect", params: { user, timestamp, info: "", token: token(user, timestamp) } },
            { uid: "2", method: "subscribe", params: { channel: record.channel } },
          ])]));
        } else if (kind === "c") {
          if (ready) record.closed = frame;
          else { ws.removeAllListeners("close"); ws.terminate(); retry(); }
        } else if (kind === "a") {
          const now = Date.now();
          for (const item of JSON.parse(frame.slice(1))) {
            let replies = JSON.parse(item);
            if (!Array.isArray(replies)) replies = [replies];
            for (const r of replies) {
              if (r.method === "message" && r.body && r.body.channel === record.channel) {
                record.n.push(r.body.data.n);
                record.lat.push(now - r.body.data.t);
              } else if (r.method === "subscribe" && !ready) {
                if (r.error) { ws.terminate(); retry(); return; }
                ready = true;
                resolve();
              }
            }
          }
        }
      });
      ws.on("close", () => { if (ready && record.closed === null) record.closed = "socket closed"; else retry(); });
    };
    attempt();
  });
}

async function main() {
  let next = 0;
  const worker = async () => { while (next < cfg.conns) await open(next++); };
  await Promise.all(Array.from({ length: cfg.window || 100 }, worker));
  process.stdout.write("ready\n");
  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    if (line.trim() !== "stop") return;
    process.stdout.write(JSON.stringify({ clients }) + "\n", () => process.exit(0));
  });
}

main();
