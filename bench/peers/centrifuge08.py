"""Peer: Centrifuge 0.8.4, the Python predecessor (Tornado 4.2, sockjs-tornado
1.0.1, memory engine), run as it ships: its own node with a one-project
structure.  Runs under the bench-only env bench/.peers/centrifuge (Python 3.6).

    bench/.peers/centrifuge/bin/python bench/peers/centrifuge08.py <port> <project> <secret>
"""
import json
import os
import sys
import tempfile


def main() -> None:
    port, project, secret = sys.argv[1], sys.argv[2], sys.argv[3]
    config = {"password": "bench", "cookie_secret": "bench",
              "projects": [{"name": project, "secret": secret}]}
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(config, f)
    sys.argv = [sys.argv[0], "--port=" + port, "--address=127.0.0.1", "--config=" + path,
                "--logging=error"]
    from centrifuge.node import main as node_main  # parses sys.argv on import
    node_main()


if __name__ == "__main__":
    main()
