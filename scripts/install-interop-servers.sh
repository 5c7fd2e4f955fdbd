#!/usr/bin/env bash
# Installs the POP3 servers of the interoperability matrix (test/interop, `npm run test:interop`)
# on Debian 12: Dovecot and GNU mailutils pop3d from apt, plus the dependencies of popa3d,
# Courier pop3d and Cyrus pop3d, whose own packages are only downloaded and unpacked into
# $INTEROP_CACHE_DIR (default .cache/interop): they declare `Conflicts: pop3-server`, so
# `apt-get install` of any of them would remove dovecot-pop3d.
#
# Idempotent; when everything is in place it only checks files (well under a second).
# Nothing is started: the test fixtures run every server privately on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
CACHE="${INTEROP_CACHE_DIR:-$PWD/.cache/interop}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

# File that proves a package is installed -> the package.
declare -A APT_FILES=(
  [/usr/sbin/dovecot]=dovecot-pop3d
  [/usr/sbin/pop3d]=mailutils-pop3d
  [/usr/bin/popauth]=mailutils-pop3d
  [/usr/bin/socat]=socat
  [/usr/bin/openssl]=openssl
  [/usr/sbin/couriertcpd]=courier-base
  [/usr/bin/couriertls]=courier-base
  [/usr/bin/maildirmake]=courier-base
  [/usr/sbin/userdbpw]=courier-authlib-userdb
  [/usr/sbin/makeuserdb]=courier-authlib-userdb
  [/usr/lib/courier/courier-authlib/authdaemond]=courier-authdaemon
  [/usr/sbin/cyrmaster]=cyrus-common
  [/usr/lib/cyrus/bin/lmtpd]=cyrus-common
  [/usr/lib/cyrus/bin/ctl_cyrusdb]=cyrus-common
  [/usr/sbin/saslpasswd2]=sasl2-bin
)
# Packages only unpacked -> a file that proves the unpacked tree is complete.
declare -A UNPACKED=(
  [popa3d]=usr/sbin/popa3d
  [courier-pop]=usr/lib/courier/courier/courierpop3d
  [cyrus-pop3d]=usr/lib/cyrus/bin/pop3d
)

missing_apt() {
  local file
  for file in "${!APT_FILES[@]}"; do [ -e "$file" ] || echo "${APT_FILES[$file]}"; done | sort -u
}
missing_unpacked() {
  local pkg
  for pkg in "${!UNPACKED[@]}"; do [ -e "$CACHE/$pkg/root/${UNPACKED[$pkg]}" ] || echo "$pkg"; done | sort
}

mapfile -t need_apt < <(missing_apt)
mapfile -t need_unpack < <(missing_unpacked)
if [ "${#need_apt[@]}" -eq 0 ] && [ "${#need_unpack[@]}" -eq 0 ]; then
  echo "== interop servers: already installed (${SECONDS}s)"
  exit 0
fi

$SUDO apt-get update -qq

if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "== interop servers: apt-get install ${need_apt[*]}"
  # cyrus-common pulls in exim4 and the packages ship init scripts for ports 25/110/143/995:
  # block every service start during the install (Debian's policy-rc.d protocol, honoured by
  # invoke-rc.d and deb-systemd-invoke). Machines that already have a policy keep theirs.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary: scripts/install-interop-servers.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    trap '$SUDO rm -f "$policy"' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ "${#need_unpack[@]}" -gt 0 ]; then
  echo "== interop servers: download + unpack ${need_unpack[*]} into $CACHE"
  mkdir -p "$CACHE/debs"
  for pkg in "${need_unpack[@]}"; do
    rm -f "$CACHE/debs/${pkg}"_*.deb
    # Sandbox user root: the _apt user may not be able to write into the cache dir.
    (cd "$CACHE/debs" && apt-get download -qq -o APT::Sandbox::User=root "$pkg")
    rm -rf "$CACHE/$pkg"
    mkdir -p "$CACHE/$pkg/root"
    dpkg-deb -x "$CACHE/debs/${pkg}"_*.deb "$CACHE/$pkg/root"
    dpkg-deb -f "$CACHE/debs/${pkg}"_*.deb Version > "$CACHE/$pkg/version"
  done
fi

mapfile -t still_apt < <(missing_apt)
mapfile -t still_unpack < <(missing_unpacked)
if [ "${#still_apt[@]}" -gt 0 ] || [ "${#still_unpack[@]}" -gt 0 ]; then
  echo "interop servers: still missing after install: ${still_apt[*]} ${still_unpack[*]}" >&2
  exit 1
fi
echo "== interop servers: installed in ${SECONDS}s"
