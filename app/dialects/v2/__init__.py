"""The Centrifugal protocol v2 dialect (centrifuge-js 3+/5.x, centrifuge-python).

So far its wire codec (docs/dialects.md, "The protocol v2 codec"):
``protocol.proto`` (our schema) and ``protocol_pb2`` generated from it,
:mod:`codes` (error, disconnect and unsubscribe tables), :mod:`commands`
(a decoded command as a typed value), :mod:`jsoncodec` (the SDKs' JSON
mapping of the schema), :mod:`framing` (many commands per frame in, many
replies per frame out, in JSON or protobuf), :mod:`pushes` (a push prepared
once per format) and :mod:`emulation` (the ``/emulation`` body).
"""
