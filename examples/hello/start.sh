#!/bin/sh
# busybox httpd logs each request to stderr (so `baremetal logs` shows it). It runs as a child
# so that SIGTERM from `docker stop` ends it at once: PID 1 ignores signals it does not handle.
echo "hello: serving /www on :8080 (GREETING=${GREETING:-unset})"
busybox httpd -f -v -p 8080 -h /www &
pid=$!
trap 'kill "$pid"; exit 0' TERM INT
wait "$pid"
