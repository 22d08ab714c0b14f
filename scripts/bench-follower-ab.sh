#!/bin/sh
# Before/after of the TaskFollower change, interleaved in one session: 1000 streams, 10 appends/s for 3 s.
# Usage: scripts/bench-follower-ab.sh [rounds]
set -e
bin=.build/release/demoforge-bench
for i in $(seq 1 "${1:-3}"); do
    echo "round $i: after (TaskFollower)"
    "$bin" sse-fanout --quick --streams=1000 | grep -E 'latency p|delivered|lost|CPU'
    echo "round $i: before (--legacy-follower)"
    "$bin" sse-fanout --quick --streams=1000 --legacy-follower | grep -E 'latency p|delivered|lost|CPU'
done
