"""``python -m sockhub``: the ``sockhub`` command (app.cli) run as a module.

The server itself lives in the ``app`` and ``transports`` packages; this one
only gives the command the name people type.
"""
