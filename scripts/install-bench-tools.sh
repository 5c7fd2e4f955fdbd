#!/bin/sh
# Installs what `npm run bench` needs (Debian 12 packages): the classic POP3 fetchers it
# compares against (mpop, fetchmail, getmail6), Dovecot (the server every tool fetches
# from), openssl (the fixture's certificate), Java (DynamoDB Local) and GNU time (CPU
# times); and the Lambda runtime's Node (scripts/install-lambda-node.sh), which the bench
# measures on (bench/lambda-node.ts). Idempotent:
# installed packages are left alone, and nothing is fetched when all of them are there.
#
# Usage (as root, or with sudo available): scripts/install-bench-tools.sh
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)

install_lambda_node() {
  # Prints its bin directory on stdout (not wanted here) and what it did on stderr.
  "$ROOT/scripts/install-lambda-node.sh" >/dev/null
}

PACKAGES="mpop fetchmail getmail6 dovecot-pop3d openssl ca-certificates openjdk-17-jre-headless time"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "install-bench-tools: everything is installed:$(printf ' %s' $PACKAGES)"
  install_lambda_node
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-bench-tools: missing:$missing; run as root (or install sudo)" >&2
    exit 1
  fi
fi

echo "install-bench-tools: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends: fetchmail recommends an MTA (exim4), getmail6 nothing needed here.
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
# The packaged dovecot/fetchmail services are never used by the bench (it runs a private
# Dovecot on loopback); on machines whose policy-rc.d allows starting them, stop them again.
for svc in dovecot fetchmail; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done
install_lambda_node
echo "install-bench-tools: done"
