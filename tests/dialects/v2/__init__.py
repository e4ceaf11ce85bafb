"""The protocol v2 codec (app/dialects/v2): schema, framing, interop with the SDKs."""
