"""The Centrifugal protocol v1 dialect (Centrifugo 2.x, centrifuge-js 2.x):
a thin adapter over the protocol v2 commands (docs/dialects.md, "The
protocol v1 dialect").  ``protocol.proto`` is our schema of its wire,
:mod:`codes` its close table, :mod:`framing` its frames (JSON and
protobuf), :mod:`convert` the field-by-name bridge to the v2 messages,
:mod:`table` its ONE command table, :mod:`dialect` the ClientDialect."""
