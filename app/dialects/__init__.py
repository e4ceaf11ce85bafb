"""Wire dialects over the protocol-neutral core (app.core).

Each dialect parses, validates and encodes at the edge and owns its command
table: today only :mod:`app.dialects.v1x` (Centrifugo 1.x).  Which dialect a
connection speaks is chosen at the edge (:mod:`app.dialects.choose`; how the
three generations will be told apart: docs/dialects.md).  Dialects import
the core; the core never imports a dialect.
"""
