"""The protocol-neutral core of sockhub: node life cycle, hub, channel rules,
the engine seam, fan-out, presence, history and recovery, limits and
metrics.  It speaks in neutral values and never imports a dialect
(app.dialects) nor the HTTP edge; see docs/architecture.md."""
