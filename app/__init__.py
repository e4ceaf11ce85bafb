"""sockhub: a real-time messaging server wire-compatible with Centrifugo 1.x."""

__version__ = "0.1.0"
#: What connect replies and NodeInfo report as "version" (clients only display it).
PROTOCOL_VERSION = "1.8.0"
