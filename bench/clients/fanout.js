// The load client of bench/ (Node + the npm `ws` package): one process that
// opens every receiving connection, publishes, and measures.
//
//   node bench/clients/fanout.js <ws-base-url> <connections> <rate> <seconds> <size>
//       (bench/transport_fanout.py: SockJS websocket broadcast, messages sent
//       by a publisher connection; prints "ready", waits for "go")
//   node bench/clients/fanout.js '<json config>'
//       (bench/run.py: every peer and sockhub's full stack; prints
//       "ready <json>", waits for "go", prints one JSON line)
//
// Config keys (JSON form):
//   url        http://127.0.0.1:<port>
//   urls       optional list of base URLs: receiver i connects to urls[i % n] (several nodes
//              behind one Redis, bench/cluster_fanout.py); the API and publisher use `url`
//   kind       "sockjs"     SockJS session, the server broadcasts what the publisher connection sends
//              "raw"        plain websocket at <url>/, same broadcast
//              "centrifugo" SockJS session speaking the Centrifugo protocol: connect with an HMAC
//                           token, subscribe, messages published through the HTTP API
//              "v2"         protocol v2 on the raw websocket <url>/connection/websocket: connect
//                           with an HS256 JWT (key `secret`), subscribe, published through the API
//              "v1"         protocol v1 (centrifuge-js 2.x's frames) on the same websocket, likewise
//   transport  websocket | xhr_streaming | eventsource   (SockJS receivers);
//              raw (centrifugo kind: the 1.x protocol on <url>/connection/websocket, no SockJS)
//   format     json | protobuf   (kinds v2, v1)
//   path       SockJS prefix (/bcast, /connection)
//   conns, rate (messages/s; 0 = all at once), messages, size (bytes of message text)
//   secret, project ("" for sockhub; Centrifuge 0.8's project name, which it
//              puts in front of every signed string), api_path
//   api        {requests, batch, concurrency, seconds}: API mode -- client i subscribes to its
//              own channel and each request publishes `batch` messages round-robin over them;
//              `seconds`: no new request after that long
//   window     connections opened concurrently (connect storm)
//   batch      rate 0 (a burst): publishes per API request (default 1)
//
// Every message text starts "@<send time ms>@", one clock for send and receive.
"use strict";

const http = require("http");
const net = require("net");
const crypto = require("crypto");
const WebSocket = require("ws");

const cfg = parseConfig(process.argv.slice(2));
const DRAIN_MS = parseFloat(process.env.DRAIN_SECONDS || "20") * 1000;

let delivered = 0;
let receivedBytes = 0;  // by the receivers once ready, framing included (bytes per delivery)
let lastDelivery = 0;
const latencies = [];
const errors = [];

function parseConfig(argv) {
  if (argv[0] && argv[0].startsWith("{")) {
    return Object.assign({
      kind: "sockjs", transport: "websocket", path: "/bcast", rate: 100, messages: 200, size: 100,
      secret: "", project: "", api_path: "/api/", channel: "bench", window: 200, api: null, legacy: false,
    }, JSON.parse(argv[0]));
  }
  const [base, n, rate, seconds, size] = argv;  // the positional form of transport_fanout.py
  const url = base.replace(/^ws/, "http");
  const u = new URL(url);
  return {
    url: u.origin, path: u.pathname, kind: "sockjs", transport: "websocket", conns: parseInt(n, 10),
    rate: parseFloat(rate), messages: Math.round(parseFloat(rate) * parseFloat(seconds)),
    size: parseInt(size || "100", 10), window: 200, api: null, legacy: true,
  };
}

// -- receiving ------------------------------------------------------------------------

function onItem(text) {
  const at = text.indexOf("@");
  if (at < 0) return false;
  const now = performance.now();
  latencies.push(now - parseFloat(text.slice(at + 1, text.indexOf("@", at + 1))));
  delivered += 1;
  lastDelivery = now;
  return true;
}

// One client's protocol state above the transport: SockJS frames in,
// "ready" once open (and, for Centrifugo, connected and subscribed).
class Receiver {
  constructor(index, send, resolve, reject) {
    this.index = index;
    this.send = send;
    this.resolve = resolve;
    this.reject = reject;
    this.ready = false;
  }

  onSockJSFrame(frame) {
    const type = frame[0];
    if (type === "a") {
      for (const item of JSON.parse(frame.slice(1))) this.onMessage(item);
    } else if (type === "o") {
      if (cfg.kind === "centrifugo") this.send(JSON.stringify([JSON.stringify(connectCommands(this.index))]));
      else this.markReady();
    } else if (type === "c") {
      if (!this.ready) this.reject(new Error(`closed: ${frame}`));
      else errors.push(`client ${this.index} closed: ${frame}`);
    }
  }

  onMessage(item) {
    if (this.ready && (this.index < 0 || onItem(item))) return;
    if (cfg.kind !== "centrifugo" || this.ready) return;
    let replies = JSON.parse(item);
    if (!Array.isArray(replies)) replies = [replies];
    for (const r of replies) {
      if (r.error) { this.reject(new Error(`${r.method}: ${r.error}`)); return; }
      if (r.method === "subscribe") this.markReady();
    }
  }

  markReady() {
    if (this.ready) return;
    this.ready = true;
    this.resolve(this);
  }
}

function hmac(text) {
  return crypto.createHmac("sha256", cfg.secret).update(text).digest("hex");
}

function channelOf(index) {
  return cfg.api ? `${cfg.channel}${index}` : cfg.channel;
}

function connectCommands(index) {
  const user = `u${index}`;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const params = { user, timestamp, info: "", token: hmac(cfg.project + user + timestamp) };
  if (cfg.project) params.project = cfg.project;
  return [
    { uid: "1", method: "connect", params },
    { uid: "2", method: "subscribe", params: { channel: channelOf(index) } },
  ];
}

const sendAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });

// -- protocol v2 (kind "v2"): JSON lines or varint-delimited protobuf -------------------

function base64url(data) {
  return Buffer.from(data).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

function jwtHS256(claims) {
  const head = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  return `${head}.${base64url(crypto.createHmac("sha256", cfg.secret).update(head).digest())}`;
}

function varint(n) {
  const out = [];
  while (n > 0x7f) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
  out.push(n);
  return Buffer.from(out);
}

// A length-delimited field (wire type 2) and an unsigned varint field (wire type 0).
function pbBytes(field, value) {
  const body = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
}

function pbVarint(field, value) {
  return Buffer.concat([varint(field << 3), varint(value)]);
}

// The fields of one protobuf message: {number: [value, ...]}, length-delimited values as Buffers.
function pbFields(buf) {
  const fields = {};
  let at = 0;
  const readVarint = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      const b = buf[at++];
      n += (b & 0x7f) * mul;
      if (b < 0x80) return n;
      mul *= 128;
    }
  };
  while (at < buf.length) {
    const key = readVarint();
    const wire = key & 7;
    let value;
    if (wire === 0) value = readVarint();
    else if (wire === 2) { const len = readVarint(); value = buf.subarray(at, at + len); at += len; }
    else if (wire === 1) { at += 8; continue; } else if (wire === 5) { at += 4; continue; } else throw new Error(`wire type ${wire}`);
    (fields[key >> 3] = fields[key >> 3] || []).push(value);
  }
  return fields;
}

function v2Commands(index) {
  const token = jwtHS256({ sub: `u${index}` });
  const channel = channelOf(index);
  if (cfg.format === "protobuf") {
    const connect = Buffer.concat([pbVarint(1, 1), pbBytes(4, pbBytes(1, token))]);
    const subscribe = Buffer.concat([pbVarint(1, 2), pbBytes(5, pbBytes(1, channel))]);
    return Buffer.concat([varint(connect.length), connect, varint(subscribe.length), subscribe]);
  }
  return `${JSON.stringify({ id: 1, connect: { token } })}\n${JSON.stringify({ id: 2, subscribe: { channel } })}`;
}

// One v2 reply or push (decoded JSON object, or protobuf fields): a publication's
// text to onItem, the subscribe reply marks the receiver ready, a ping is answered.
function onV2Reply(r, reply, ws) {
  const json = cfg.format !== "protobuf";
  const id = json ? reply.id : (reply[1] || [0])[0];
  const error = json ? reply.error : reply[2];
  if (error) { r.reject(new Error(`v2 reply ${id}: ${json ? JSON.stringify(error) : "error"}`)); return; }
  const push = json ? reply.push : reply[4] && pbFields(reply[4][0]);
  if (push) {
    const pub = json ? push.pub : push[4] && pbFields(push[4][0]);
    if (pub && r.ready) onItem(json ? pub.data.m : pub[4][0].toString());
    return;
  }
  if (id === 2) { r.markReady(); return; }
  if (!id && Object.keys(reply).length === 0) {
    ws.send(json ? "{}" : Buffer.from([0]));  // the server's ping: pong
  }
}

// Each message of a v1/v2 frame as (start, end) in `data`: newline-separated JSON
// lines, or varint-length-delimited protobuf messages.
function eachMessage(data, visit) {
  if (cfg.format !== "protobuf") {
    let start = 0;
    while (start < data.length) {
      let end = data.indexOf(10, start);
      if (end < 0) end = data.length;
      if (end > start) visit(start, end);
      start = end + 1;
    }
    return;
  }
  let at = 0;
  while (at < data.length) {
    let len = 0;
    let mul = 1;
    for (;;) { const b = data[at++]; len += (b & 0x7f) * mul; if (b < 0x80) break; mul *= 128; }
    visit(at, at + len);
    at += len;
  }
}

// A ready receiver's message with "@<send ms>@" in it is a publication: timed
// without decoding, as the 1.x and SockJS receivers time theirs (what is measured
// is the server, not the load client's decoder).
function onTimedBytes(data, start, end) {
  const at = data.indexOf(64, start);
  if (at < 0 || at >= end) return false;
  const stop = data.indexOf(64, at + 1);
  const now = performance.now();
  latencies.push(now - parseFloat(data.toString("latin1", at + 1, stop)));
  delivered += 1;
  lastDelivery = now;
  return true;
}

function isPing(data, start, end) {
  return cfg.format === "protobuf" ? end === start : end - start === 2 && data[start] === 123 && data[start + 1] === 125;
}

function onV2Frame(r, data, ws) {
  if (r.ready) receivedBytes += data.length;
  eachMessage(data, (start, end) => {
    if (r.ready && onTimedBytes(data, start, end)) return;
    if (isPing(data, start, end)) { ws.send(cfg.format === "protobuf" ? Buffer.from([0]) : "{}"); return; }
    const body = data.subarray(start, end);
    onV2Reply(r, cfg.format === "protobuf" ? pbFields(body) : JSON.parse(body.toString()), ws);
  });
}

// -- protocol v1 (kind "v1"): {"id","method","params"}; replies {"id","result"}; pushes a
// result without id whose data is the publication ---------------------------------------

function apiKind(kind) {
  return kind === "centrifugo" || kind === "v2" || kind === "v1";
}

function v1Commands(index) {
  const token = jwtHS256({ sub: `u${index}` });
  const channel = channelOf(index);
  if (cfg.format === "protobuf") {
    const connect = Buffer.concat([pbVarint(1, 1), pbBytes(3, pbBytes(1, token))]);
    const subscribe = Buffer.concat([pbVarint(1, 2), pbVarint(2, 1), pbBytes(3, pbBytes(1, channel))]);
    return Buffer.concat([varint(connect.length), connect, varint(subscribe.length), subscribe]);
  }
  return `${JSON.stringify({ id: 1, params: { token } })}\n${JSON.stringify({ id: 2, method: 1, params: { channel } })}`;
}

function onV1Reply(r, reply) {
  const json = cfg.format !== "protobuf";
  const id = json ? reply.id : (reply[1] || [0])[0];
  const error = json ? reply.error : reply[2];
  if (error) { r.reject(new Error(`v1 reply ${id}: ${json ? JSON.stringify(error) : "error"}`)); return; }
  if (id) { if (id === 2) r.markReady(); return; }
  const push = json ? reply.result : reply[3] && pbFields(reply[3][0]);
  if (!push || (json ? push.type : (push[1] || [0])[0])) return;  // not a publication
  if (r.ready) onItem(json ? push.data.data.m : pbFields(push[3][0])[4][0].toString());
}

function onV1Frame(r, data) {
  if (r.ready) receivedBytes += data.length;
  eachMessage(data, (start, end) => {
    if (r.ready && onTimedBytes(data, start, end)) return;
    const body = data.subarray(start, end);
    onV1Reply(r, cfg.format === "protobuf" ? pbFields(body) : JSON.parse(body.toString()));
  });
}

function openReceiver(index) {
  return new Promise((resolve, reject) => {
    const id = `s${index}x${process.pid}`;
    const origin = cfg.urls && index >= 0 ? cfg.urls[index % cfg.urls.length] : cfg.url;
    const base = `${origin}${cfg.path}/000/${id}`;
    if (cfg.kind === "raw") {
      const ws = new WebSocket(`${origin.replace(/^http/, "ws")}/`, { perMessageDeflate: false });
      const r = new Receiver(index, null, resolve, reject);
      r.socket = ws;
      ws.on("open", () => r.markReady());
      ws.on("message", (data) => { if (r.ready && index >= 0) onItem(data.toString()); });
      ws.on("error", reject);
      return;
    }
    if (cfg.kind === "v2" || cfg.kind === "v1" || (cfg.kind === "centrifugo" && cfg.transport === "raw")) {
      const protobuf = cfg.kind !== "centrifugo" && cfg.format === "protobuf";
      const protocols = protobuf ? ["centrifuge-protobuf"] : [];
      const query = protobuf && cfg.kind === "v1" ? "?format=protobuf" : "";  // as centrifuge-js 2.x asks
      const ws = new WebSocket(`${origin.replace(/^http/, "ws")}/connection/websocket${query}`, protocols,
        { perMessageDeflate: false });
      const r = new Receiver(index, null, resolve, reject);
      r.socket = ws;
      if (cfg.kind === "v2") {
        ws.on("open", () => ws.send(v2Commands(index)));
        ws.on("message", (data) => onV2Frame(r, data, ws));
      } else if (cfg.kind === "v1") {
        ws.on("open", () => ws.send(v1Commands(index)));
        ws.on("message", (data) => onV1Frame(r, data));
      } else {
        ws.on("open", () => ws.send(JSON.stringify(connectCommands(index))));
        ws.on("message", (data) => {
          if (r.ready) receivedBytes += data.length;
          r.onMessage(data.toString());
        });
      }
      ws.on("error", reject);
      return;
    }
    if (cfg.transport === "websocket") {
      const ws = new WebSocket(`${base.replace(/^http/, "ws")}/websocket`, { perMessageDeflate: false });
      const r = new Receiver(index, (text) => ws.send(text), resolve, reject);
      r.socket = ws;
      ws.on("message", (data) => {
        if (r.ready) receivedBytes += data.length;
        r.onSockJSFrame(data.toString());
      });
      ws.on("error", reject);
      return;
    }
    const send = (text) => post(`${base}/xhr_send`, text, {}, sendAgent).catch((e) => errors.push(String(e)));
    const r = new Receiver(index, send, resolve, reject);
    streamHTTP(`${base}/${cfg.transport}`, r, reject);
  });
}

// xhr_streaming / eventsource: one long response, reopened when the server
// ends it (response_limit) until the run is over.
function streamHTTP(url, receiver, reject) {
  const eventsource = cfg.transport === "eventsource";
  const req = http.request(url, { method: eventsource ? "GET" : "POST", agent: false }, (res) => {
    receiver.response = res;
    res.setEncoding("utf8");
    let buffer = "";
    const sep = eventsource ? "\r\n\r\n" : "\n";
    res.on("data", (chunk) => {
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf(sep)) >= 0) {
        let frame = buffer.slice(0, end);
        buffer = buffer.slice(end + sep.length);
        if (eventsource) {
          const at = frame.indexOf("data: ");  // after the "\r\n" prelude, for the first
          if (at < 0) continue;
          frame = frame.slice(at + 6);
        }
        if (frame.length && frame[0] !== "h") receiver.onSockJSFrame(frame);
      }
    });
    res.on("end", () => { if (!finished) streamHTTP(url, receiver, reject); });
  });
  req.on("error", (e) => { if (!finished) reject(e); });
  receiver.request = req;
  req.end();
}

function post(url, body, headers, agent) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => { text += c; });
      res.on("end", () => (res.statusCode < 300 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
    });
    req.on("error", reject);
    req.end(body);
  });
}

// -- opening ---------------------------------------------------------------------------

async function openAll() {
  const receivers = new Array(cfg.conns);
  let next = 0;
  async function worker() {
    while (next < cfg.conns) {
      const i = next++;
      receivers[i] = await openReceiver(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(cfg.window, cfg.conns) }, worker));
  return receivers;
}

// -- publishing ----------------------------------------------------------------------------

function messageText(seq) {
  const head = `@${performance.now().toFixed(3)}@ ${seq} `;
  return head + "x".repeat(Math.max(0, cfg.size - head.length));
}

// -- the API publisher (API mode) ------------------------------------------------------------

// One keep-alive connection to the API with one request in flight: the request
// is written preformatted and the response read minimally (status line,
// Content-Length, body), as wrk does.  Node's http.request cost about 230 µs of
// client CPU per request (bench/run.py api_1k), capping the client near the
// server's own rate.
class ApiConnection {
  constructor(target) {
    this.target = target;
    this.socket = null;
    this.buffer = null;
    this.waiting = null;  // {resolve, reject} of the request in flight
  }

  request(text) {
    if (!this.socket) this.open();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(text);
    });
  }

  open() {
    const socket = net.connect({ host: this.target.hostname, port: this.target.port, noDelay: true });
    this.socket = socket;
    this.buffer = null;
    socket.on("data", (chunk) => this.onData(chunk));
    const lost = (why) => {  // a socket dropped on purpose is no longer this.socket
      if (this.socket !== socket) return;
      this.socket = null;
      this.settle(null, new Error(`API connection ${why}`));
    };
    socket.on("error", (e) => lost(`error: ${e.message}`));
    socket.on("close", () => lost("closed"));
  }

  onData(chunk) {
    const buf = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) { this.buffer = buf; return; }
    const head = buf.toString("latin1", 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) { this.fail(`API response without Content-Length: ${head.slice(0, 80)}`); return; }
    const stop = end + 4 + parseInt(length[1], 10);
    if (buf.length < stop) { this.buffer = buf; return; }
    this.buffer = buf.length > stop ? buf.subarray(stop) : null;
    const response = { status: parseInt(head.slice(9, 12), 10), body: buf.toString("utf8", end + 4, stop) };
    if (/\r\nconnection: *close/i.test(head)) this.drop();
    this.settle(response, null);
  }

  settle(response, error) {
    const waiting = this.waiting;
    this.waiting = null;
    if (!waiting) return;
    if (error) waiting.reject(error);
    else waiting.resolve(response);
  }

  fail(why) {
    this.drop();
    this.settle(null, new Error(why));
  }

  drop() {
    if (this.socket) this.socket.destroy();
    this.socket = null;
    this.buffer = null;
  }
}

// The reply to `count` publishes: 200 and a JSON array of `count` results
// without an error; anything else is the run's error.
function checkApiResponse(response, count) {
  let ok = response.status === 200;
  if (ok) {
    try {
      const results = JSON.parse(response.body);
      ok = Array.isArray(results) && results.length === count && results.every((r) => !r.error);
    } catch (e) {
      ok = false;
    }
  }
  if (!ok) errors.push(`API ${response.status} ${response.body.slice(0, 200)}`);
}

// One API request's body, its Content-Type and sign: the JSON form for sockhub,
// the form fields for Centrifuge 0.8 (its JSON path fails on Python 3).
function apiBody(commands) {
  const data = JSON.stringify(commands.length === 1 ? commands[0] : commands);
  const sign = hmac(cfg.project + data);
  return cfg.project
    ? { body: new URLSearchParams({ data, sign }).toString(), type: "application/x-www-form-urlencoded", sign }
    : { body: data, type: "application/json", sign };
}

// API mode: `concurrency` ApiConnections, each request on a free one.  The
// body (and its sign) is made per request; sockhub reads the JSON form,
// Centrifuge 0.8 the form (its JSON path fails on Python 3) at /api/<project>.
function apiPublisher() {
  const target = new URL(cfg.url + cfg.api_path + (cfg.project || ""));
  const free = [];
  const head = `POST ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n`;
  return {
    publish(commands) {
      const { body, type, sign } = apiBody(commands);
      const text = `${head}Content-Type: ${type}\r\nX-API-Sign: ${sign}\r\n`
        + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const conn = free.pop() || new ApiConnection(target);
      return conn.request(text)
        .then((response) => checkApiResponse(response, commands.length), (e) => errors.push(String(e)))
        .finally(() => free.push(conn));
    },
    close() { for (const conn of free) conn.drop(); },
  };
}

async function makePublisher() {
  const api = apiKind(cfg.kind);
  if (api && cfg.api) return apiPublisher();
  if (api) {
    // A burst is sent at once, as the broadcast peers' publisher writes it
    // at once; at a rate, a few requests in flight suffice.
    const sockets = cfg.rate ? 8 : Math.max(8, Math.ceil(cfg.messages / (cfg.batch || 1)));
    const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    const url = cfg.url + cfg.api_path + (cfg.project || "");
    return {
      publish(commands) {
        const { body, type, sign } = apiBody(commands);
        const headers = { "Content-Type": type, "X-API-Sign": sign };
        return post(url, body, headers, agent).catch((e) => errors.push(String(e)));
      },
      close() { agent.destroy(); },
    };
  }
  const p = await openReceiver(-1);  // receives its own copies too: not counted
  const wrap = cfg.kind === "raw" ? (t) => t : (t) => JSON.stringify([t]);
  return {
    publish(texts) { for (const t of texts) p.socket.send(wrap(t)); return Promise.resolve(); },
    close() { p.socket.terminate(); },
  };
}

function publishCommand(text, channel) {
  return apiKind(cfg.kind) ? { method: "publish", params: { channel, data: { m: text } } } : text;
}

// `rate` messages/s (timers are coarse under load: catch up to the schedule),
// or all at once when rate is 0.
function fanOut(publisher) {
  const total = cfg.messages;
  const start = performance.now();
  let sent = 0;
  const pending = [];
  // A burst goes out `batch` publishes per API request; at a rate, one each.
  const per = !cfg.rate && (apiKind(cfg.kind)) ? cfg.batch || 1 : 1;
  const sendUpTo = (due) => {
    while (sent < due) {
      const commands = [];
      while (sent < due && commands.length < per) commands.push(publishCommand(messageText(sent++), cfg.channel));
      pending.push(publisher.publish(commands));
    }
  };
  if (!cfg.rate) { sendUpTo(total); return Promise.all(pending).then(() => start); }
  return new Promise((resolve) => {
    sendUpTo(1);
    const timer = setInterval(() => {
      sendUpTo(Math.min(total, Math.floor(((performance.now() - start) / 1000) * cfg.rate) + 1));
      if (sent >= total) { clearInterval(timer); Promise.all(pending).then(() => resolve(start)); }
    }, 5);
  });
}

// API mode: `requests` requests of `batch` publishes each, `concurrency` in
// flight; with `seconds`, no new request after that long (at most `requests`).
async function apiRun(publisher) {
  const { requests, batch, concurrency, seconds: limit } = cfg.api;
  let next = 0;
  let seq = 0;
  const start = performance.now();
  const stop = limit ? start + limit * 1000 : Infinity;
  async function worker() {
    while (next < requests && performance.now() < stop) {
      next++;
      const commands = [];
      for (let b = 0; b < batch; b++, seq++) commands.push(publishCommand(messageText(seq), channelOf(seq % cfg.conns)));
      await publisher.publish(commands);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - start) / 1000;
  return {
    start, api_requests: next,
    api_requests_per_s: Math.round(next / seconds), api_messages_per_s: Math.round((next * batch) / seconds),
  };
}

async function main() {
  const t0 = performance.now();
  const receivers = await openAll();
  const connectSeconds = (performance.now() - t0) / 1000;
  const publisher = await makePublisher();
  if (cfg.legacy) console.log("ready");
  else console.log(`ready ${JSON.stringify({ connect_s: connectSeconds })}`);
  await new Promise((resolve) => process.stdin.once("data", resolve));
  const cpu0 = process.cpuUsage();
  let extra = {};
  let expected;
  let start;
  if (cfg.api) {
    extra = await apiRun(publisher);
    start = extra.start;
    delete extra.start;
    expected = extra.api_requests * cfg.api.batch;
  } else {
    start = await fanOut(publisher);
    expected = cfg.messages * cfg.conns;  // the publisher's own copies are not counted
  }
  const deadline = performance.now() + DRAIN_MS;
  while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  finished = true;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const seconds = (lastDelivery - start) / 1000;
  console.log(JSON.stringify(Object.assign({
    connections: cfg.conns, published: cfg.api ? expected : cfg.messages, expected, delivered, lost: expected - delivered,
    deliveries_per_s: seconds > 0 ? Math.round(delivered / seconds) : 0,
    p50_ms: percentile(latencies, 0.5), p99_ms: percentile(latencies, 0.99), connect_s: connectSeconds,
    errors: errors.slice(0, 5), error_count: errors.length,
    bytes_per_delivery: delivered ? Math.round((receivedBytes / delivered) * 10) / 10 : null,
    client_cpu_us: delivered ? Math.round(((cpu.user + cpu.system) / delivered) * 100) / 100 : null,
  }, extra)));
  publisher.close();
  for (const r of receivers) {
    if (r.socket) r.socket.terminate();
    if (r.request) r.request.destroy();
  }
  process.exit(0);
}

let finished = false;

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

main().catch((err) => { console.error(err && err.stack ? err.stack : err); process.exit(1); });
