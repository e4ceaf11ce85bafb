"""The Centrifugo 2 server API, ``POST {http_prefix}/api`` (cent 3.0.1;
docs/protocol-v2.md §9.2): newline-delimited commands over the
current-style API's commands (app.dialects.v2api.runner)."""
