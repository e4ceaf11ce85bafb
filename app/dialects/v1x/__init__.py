"""The Centrifugo 1.x dialect (docs/protocol-1x.md): client frames
(dialect.V1x, commands, wire) and the HTTP API body format (api.ApiRunner)."""
