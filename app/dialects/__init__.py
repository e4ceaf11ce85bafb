"""Wire dialects over the protocol-neutral core (app.core).

Each dialect parses, validates and encodes at the edge and owns its command
table: today only :mod:`app.dialects.v1x` (Centrifugo 1.x).  Dialects import
the core; the core never imports a dialect.
"""
