#!/bin/bash
# Builds strongSwan 5.9.8 from Debian's source package (orig tarball, via apt-get source) with the
# load-tester plugin that Debian does not ship, into $PFX (default /opt/pixgw-bench/strongswan-5.9.8)
# for bench/strongswan.py. Nothing of strongSwan enters the repository.
# Needs: gcc make pkg-config libssl-dev bzip2 and deb-src lines in apt's sources.
set -euo pipefail
PFX=${PFX:-/opt/pixgw-bench/strongswan-5.9.8}
SRC=${SRC:-/var/tmp/pixgw-bench/src}
if [ -x "$PFX/libexec/ipsec/charon" ] && [ -f "$PFX/lib/ipsec/plugins/libstrongswan-load-tester.so" ]; then
  echo "already built: $PFX"; exit 0
fi
mkdir -p "$SRC"; cd "$SRC"
if [ ! -f strongswan_5.9.8.orig.tar.bz2 ]; then
  if ! grep -rqs "deb-src" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/pixgw-bench-debsrc.sources <<'SRCS'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRCS
    apt-get -o DPkg::Lock::Timeout=300 update -qq
  fi
  apt-get source --download-only strongswan=5.9.8-5+deb12u5 || apt-get source --download-only strongswan || true
  [ -f strongswan_5.9.8.orig.tar.bz2 ]
fi
rm -rf strongswan-5.9.8; tar xjf strongswan_5.9.8.orig.tar.bz2
cd strongswan-5.9.8
./configure --prefix="$PFX" --sysconfdir="$PFX/etc" --with-piddir=/run \
  --enable-load-tester --enable-openssl --enable-swanctl --enable-vici --enable-charon \
  --disable-stroke --disable-scepclient --disable-gmp --disable-dependency-tracking > "$SRC/configure.log" 2>&1
make -j2 > "$SRC/make.log" 2>&1
make install > "$SRC/install.log" 2>&1
ls "$PFX/lib/ipsec/plugins/" | grep load-tester
echo BUILD-OK
