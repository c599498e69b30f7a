#!/bin/sh
# busybox httpd in the foreground, logging each request to stderr (so `baremetal logs` shows it).
echo "hello: serving /www on :8080 (GREETING=${GREETING:-unset})"
exec busybox httpd -f -v -p 8080 -h /www
