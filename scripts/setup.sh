#!/usr/bin/env bash
# setup.sh - install what a fresh machine lacks (idempotent; quick when everything is there).
# The one prerequisite script: the tests (scripts/test.sh) and the `wcfs` launcher at the repo root
# both run it.
#
#   bash scripts/setup.sh                 everything the tests need
#   bash scripts/setup.sh --for wcfs      what building and running the wcfs tool needs
#   bash scripts/setup.sh --dry-run ...   say what is missing and what would be installed; change nothing
#
# Each Debian package is checked by what it provides (a command, a pkg-config module), so the check
# is right on any machine and can be exercised without uninstalling anything (e.g. PKG_CONFIG_LIBDIR
# pointing at an empty directory makes libfuse3-dev missing). Missing packages are installed with
# apt-get when run as root; otherwise one line says what to install. Exit status 1 if something is
# still missing.
#   build-essential, cmake, pkg-config   the native library (Wcfs.Native, CMake from MSBuild)
#   fuse3, libfuse3-dev                  the WCFS server (fusermount3; headers and libfuse3.so)
#   sqlite3, postgresql                  diagnostics; storage conformance against a real server (tests)
#   liblmdb0                             the `wcfs bench lmdb` peer (LightningDB's bundled liblmdb needs glibc 2.38)
set -euo pipefail

profile=tests dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --for) profile="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    *) echo "setup: unknown argument $1 (use --for tests|wcfs, --dry-run)" >&2; exit 2 ;;
  esac
done
case "$profile" in
  wcfs) packages=(build-essential cmake pkg-config fuse3 libfuse3-dev) ;;
  tests) packages=(build-essential cmake pkg-config fuse3 libfuse3-dev sqlite3 postgresql liblmdb0) ;;
  *) echo "setup: unknown profile $profile (tests or wcfs)" >&2; exit 2 ;;
esac

# present PACKAGE: does the machine have what PACKAGE provides?
present() {
  case "$1" in
    build-essential) command -v cc >/dev/null && command -v make >/dev/null ;;
    cmake) command -v cmake >/dev/null ;;
    pkg-config) command -v pkg-config >/dev/null ;;
    fuse3) command -v fusermount3 >/dev/null ;;
    libfuse3-dev) command -v pkg-config >/dev/null && pkg-config --exists 'fuse3 >= 3.10' ;;
    sqlite3) command -v sqlite3 >/dev/null ;;
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null ;;
    liblmdb0) compgen -G '/usr/lib/*/liblmdb.so.0' >/dev/null ;;
  esac
}

missing() { local m=(); for p in "${packages[@]}"; do present "$p" || m+=("$p"); done; echo "${m[*]}"; }

need=$(missing)
if [ -n "$need" ]; then
  if [ "$dry" = 1 ]; then
    echo "setup: missing: $need; would run: apt-get install $need (as root)" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: $need (run as root: sudo bash scripts/setup.sh --for $profile, or: sudo apt-get install $need)" >&2
    exit 1
  fi
  echo "setup: installing $need" >&2
  export DEBIAN_FRONTEND=noninteractive
  # another apt (a fresh machine's unattended upgrades, a second `./wcfs` started at the same time)
  # may hold the package lists' lock: wait for it rather than fail. install waits through
  # DPkg::Lock::Timeout; this apt's update does not honour it for the lists' lock, so it retries.
  tries=0
  until out=$(LC_ALL=C apt-get update -qq 2>&1); do
    if ! grep -q 'Could not get lock' <<<"$out" || [ $((tries += 1)) -gt 300 ]; then
      echo "$out" >&2
      exit 1
    fi
    [ "$tries" = 1 ] && echo "setup: waiting for another apt to release its lock" >&2
    sleep 1
  done
  # shellcheck disable=SC2086
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends $need >/dev/null
  need=$(missing)
  if [ -n "$need" ]; then
    echo "setup: still missing after apt-get install: $need (is PKG_CONFIG_PATH/PATH hiding them?)" >&2
    exit 1
  fi
fi

command -v dotnet >/dev/null || { echo "setup: the .NET 10 SDK (dotnet) is not on PATH: install it (https://dot.net)" >&2; exit 1; }
[ -e /dev/fuse ] || echo "setup: warning: /dev/fuse is missing; FUSE mounts will fail" >&2
exit 0
