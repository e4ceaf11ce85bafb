#!/usr/bin/env bash
# The full measurement of issue 6 as a series of bench/run.py invocations,
# each under one lock file (two measurements at once distort both) and about 10 minutes or less, all tagged with one
# campaign name so that bench/readme.py merges them:
#   bash bench/campaign.sh [TAG]
# rate_10k runs as three one-repetition invocations (the slow peers need
# ~80 s each there); every other group runs its three repetitions at once.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p bench/results
LOCK=bench/results/.lock
run() { uptime; flock "$LOCK" .venv/bin/python bench/run.py --tag "$TAG" "$@"; }
run --group sockhub --reps 3
run --scenarios rate_1k,burst_1k,burst_5k --reps 3
run --scenarios p99_1k --reps 3
for i in 0 1 2; do run --scenarios rate_10k --reps 1 --rotate "$i"; done
# Two nodes against one: each node limited to 0.4 CPU (the verdict), then nothing limited.
cluster() { uptime; flock "$LOCK" .venv/bin/python bench/cluster_fanout.py --nodes 1,2 --conns 2000 --burst 1000 \
    --batch 50 --reps 3 "$@"; }
cluster --node-cpu 0.4 --out "bench/results/cluster-$TAG.json"
cluster --out "bench/results/cluster-$TAG-shared.json"
.venv/bin/python bench/readme.py --tag "$TAG"
