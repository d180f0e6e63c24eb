#!/bin/sh
# Before `npm test` (npm runs it as `pretest`): the Debian packages the tests use beyond Node.
# What is missing is installed with apt-get when this runs as root on Debian; otherwise it says
# what to install and stops, rather than letting the tests fail one by one.
#   postgresql: the throwaway server of the shared-log tests (initdb, pg_ctl)
#   dash, curl: the appliance's forwarder is tested as POSIX sh with curl
#   openssl: the emulators' self-signed certificates
#   bsdutils (script), util-linux (prlimit): a pseudo-terminal, a file size limit
set -u
missing=
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$missing postgresql"
command -v dash >/dev/null 2>&1 || missing="$missing dash"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v script >/dev/null 2>&1 || missing="$missing bsdutils"
command -v prlimit >/dev/null 2>&1 || missing="$missing util-linux"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "npm test: installing what the tests need:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2 && apt-get install -y -q $missing >&2 && exit 0
fi
echo "npm test: the tests need these packages:$missing (Debian: sudo apt-get install -y$missing; or nix develop)" >&2
exit 1
