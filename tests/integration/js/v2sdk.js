// What the centrifuge-js 5.8.0 scripts here share: the SDK build for a
// format ("json" or "protobuf": the npm alias centrifuge5 and its protobuf
// build), data as the SDK takes and gives it in that format, and the first
// event of a kind as a promise.
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

module.exports = { sdk, first };
