// What the centrifuge-js 5.8.0 scripts here share: the SDK build for a
// format ("json" or "protobuf": the npm alias centrifuge5 and its protobuf
// build), data as the SDK takes and gives it in that format, the first
// event of a kind as a promise, and the scripts' one way to report.
"use strict";

function sdk(format) {
  const protobuf = format === "protobuf";
  const { Centrifuge } = protobuf ? require("centrifuge5/build/protobuf") : require("centrifuge5");
  return {
    Centrifuge,
    encode: (value) => (protobuf ? new TextEncoder().encode(JSON.stringify(value)) : value),
    decode: (data) => (protobuf ? JSON.parse(new TextDecoder().decode(data)) : data),
  };
}

const first = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));

// Runs the script's promise: prints what it saw as one JSON line and exits 0,
// or prints the error and exits 1; exits 2 when nothing came in 30 s.
function report(promise) {
  const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 30000);
  promise.then((seen) => {
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(seen) + "\n");
    process.exit(0);
  }, (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exit(1);
  });
}

module.exports = { sdk, first, report };
