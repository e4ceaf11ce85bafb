// Load client of bench/transport_fanout.py (Node + the npm `ws` package).
//
//   node bench/clients/fanout.js <ws-base-url> <connections> <rate> <seconds> <size>
//
// Opens <connections> SockJS websocket sessions (<base>/000/<id>/websocket),
// then one more as publisher which, once the bench says "go" on stdin, sends <rate> messages/s for <seconds>
// seconds; the server broadcasts each to every session.  Each message carries
// its send time, so latency is measured on one clock.  Prints one JSON line.
"use strict";

const WebSocket = require("ws");

const [base, nArg, rateArg, secondsArg, sizeArg] = process.argv.slice(2);
const N = parseInt(nArg, 10);
const RATE = parseFloat(rateArg);
const SECONDS = parseFloat(secondsArg);
const SIZE = parseInt(sizeArg || "100", 10);
const DRAIN_MS = parseFloat(process.env.DRAIN_SECONDS || "20") * 1000;

let delivered = 0;
let lastDelivery = 0;
const latencies = [];

function open(id, onMessage) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base}/000/${id}/websocket`, { perMessageDeflate: false });
    ws.on("message", (data) => {
      const frame = data.toString();
      if (frame === "o") return resolve(ws);
      if (frame[0] === "a") onMessage(JSON.parse(frame.slice(1)));
    });
    ws.on("error", reject);
  });
}

function onMessages(items) {
  const now = performance.now();
  for (const text of items) {
    const sent = parseFloat(text.slice(0, text.indexOf(" ")));
    latencies.push(now - sent);
    delivered += 1;
  }
  lastDelivery = now;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function main() {
  const subscribers = [];
  for (let i = 0; i < N; i += 200) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + 200); j++) batch.push(open(`s${j}`, onMessages));
    subscribers.push(...(await Promise.all(batch)));
  }
  const publisher = await open("publisher", () => {});
  // Tell the bench we are connected (it samples the server's RSS), wait for "go".
  console.log("ready");
  await new Promise((resolve) => process.stdin.once("data", resolve));
  const total = Math.round(RATE * SECONDS);
  const pad = "x".repeat(Math.max(0, SIZE - 30));
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      // Catch up to the schedule (timers are coarse under load).
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * RATE) + 1);
      while (sent < due) {
        publisher.send(JSON.stringify([`${performance.now().toFixed(3)} ${sent} ${pad}`]));
        sent += 1;
      }
      if (sent >= total) { clearInterval(timer); resolve(); }
    }, 5);
  });
  const expected = total * N;  // the publisher's own copies are not counted
  const deadline = performance.now() + DRAIN_MS;
  while (delivered < expected && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  latencies.sort((a, b) => a - b);
  const seconds = (lastDelivery - start) / 1000;
  console.log(JSON.stringify({
    connections: N, published: total, expected, delivered, lost: expected - delivered,
    deliveries_per_s: Math.round(delivered / seconds),
    p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99),
  }));
  for (const ws of subscribers) ws.terminate();
  publisher.terminate();
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
