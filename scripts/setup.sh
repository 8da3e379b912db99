#!/usr/bin/env bash
# setup.sh - install what a fresh machine lacks (idempotent; quick when everything is there).
# Debian packages: build tools and CMake (native library), fuse3 + libfuse3-dev (WCFS server),
# pkg-config, sqlite3 (diagnostics), postgresql (storage conformance against a real server),
# liblmdb0 (the `wcfs bench lmdb` peer: LightningDB's bundled liblmdb needs glibc 2.38).
set -euo pipefail

need=()
for pkg in build-essential cmake pkg-config fuse3 libfuse3-dev sqlite3 postgresql liblmdb0; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
[ -e /dev/fuse ] || echo "setup: warning: /dev/fuse is missing; FUSE tests will say why they skip" >&2
