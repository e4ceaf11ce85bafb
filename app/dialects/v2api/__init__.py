"""The server HTTP API of today's Centrifugo (v5/v6), spoken by ``cent`` 5.x:
``POST {http_prefix}/api/<method>`` with an API key (docs/protocol-v2.md §9.1).

Its parts, each with one job: :mod:`errors` (the API error codes and their
JSON), :mod:`params` (request bodies into typed values, strictly),
:mod:`positions` (stream positions of publications: the one place that reads
them), :mod:`pattern` (the ``channels`` glob), :mod:`results` (result
bodies as JSON text), :mod:`runner` (the command table, batch and
broadcast) and :mod:`envelope` (the HTTP request: key, body, status).  The
1.x API at ``/api/`` is :mod:`app.dialects.v1x.api`; both run over the same
core.
"""
