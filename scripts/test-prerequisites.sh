#!/usr/bin/env bash
# What `npm test` needs besides node_modules: Dovecot's POP3 server (tests against a real
# server), Java (DynamoDB Local) and openssl (test certificates). Installs what is missing
# with apt-get when it can (root, or sudo without a password); otherwise says what to
# install and stops before any test runs. Quick when everything is there.
set -euo pipefail

missing=()
[ -x "${MAILFETCH_DOVECOT_BIN:-/usr/sbin/dovecot}" ] || missing+=(dovecot-pop3d) # the variable is for its own test
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ "${#missing[@]}" -eq 0 ] && exit 0

why="the tests need: dovecot-pop3d (a real POP3 server), openjdk-17-jre-headless (DynamoDB Local runs on Java), openssl (test certificates)"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else sudo="none"; fi
fi
if [ "$sudo" = "none" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test: missing ${missing[*]}" >&2
  echo "  $why." >&2
  if command -v apt-get >/dev/null 2>&1; then
    echo "  Install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  else
    echo "  This is not a Debian/Ubuntu machine: install the equivalent packages, then run npm test again." >&2
  fi
  exit 1
fi

echo "npm test: installing ${missing[*]} with apt-get ($why)"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
