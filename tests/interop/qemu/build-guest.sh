#!/bin/bash
# build-guest.sh - build the pixgw interop client guest: the stock Debian 12
# kernel (linux-image-amd64, fetched with apt-get download, never installed on
# the host) and one initramfs holding a debootstrap'ed minbase bookworm root
# with strongSwan (starter, swanctl, charon, pki, extra plugins), xl2tpd,
# pppd, iproute2, ping, tcpdump, busybox and qemu-guest-agent.
#
# usage: build-guest.sh OUTDIR INPUTS_HASH [VARIANT]
#   OUTDIR       cache root (normally /var/tmp/pixgw-interop)
#   INPUTS_HASH  hash of the harness inputs (this script and guest/),
#                computed by tests/interop/qemu/build.py; written to
#                OUTDIR/<guest dir>/inputs.sha256 last, so a half-built guest
#                is never taken for a good one.
#   VARIANT      client (default: strongSwan + xl2tpd + pppd; OUTDIR/guest),
#                gateway (the client packages + python3, for running pixgw
#                itself in a guest whose kernel has ESP; OUTDIR/guest-gateway),
#                libreswan (libreswan's pluto instead of strongSwan, which it
#                conflicts with; OUTDIR/guest-libreswan). Every variant has the
#                same kernel, modules (incl. 9p for host shares) and test PKI;
#                the PKI is made by the client variant, which must exist first.
# environment: PIXGW_MIRROR (default: the host's Debian URI, else deb.debian.org)
#
# caches: OUTDIR/kernel (unpacked .deb), OUTDIR/base (debootstrap, keyed by the
# package list) - a change of guest/ only repacks (seconds). The configuration
# templates are not in the image: the harness renders and copies them at run time.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: build-guest.sh OUTDIR INPUTS_HASH}
HASH=${2:?usage: build-guest.sh OUTDIR INPUTS_HASH [VARIANT]}
VARIANT=${3:-client}
case "$VARIANT" in
    client) SUFFIX= ;;
    gateway|libreswan) SUFFIX=-$VARIANT ;;
    *) echo "unknown guest variant $VARIANT (client, gateway, libreswan)" >&2; exit 2 ;;
esac
GD=$OUT/guest$SUFFIX      # the variant's result: vmlinuz, initrd.img, pki/, inputs.sha256
BASE=$OUT/base$SUFFIX     # its debootstrap root, keyed by its package list
SUITE=bookworm
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
T0=$(date +%s)

for tool in debootstrap cpio zstd depmod modprobe qemu-system-x86_64; do
    command -v "$tool" >/dev/null || { echo "missing host tool $tool (see scripts/apt-packages.txt)" >&2; exit 1; }
done
if [ -z "${PIXGW_MIRROR:-}" ]; then
    PIXGW_MIRROR=$(grep -hoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | awk '{print $2; exit}' || true)
    PIXGW_MIRROR=${PIXGW_MIRROR:-http://deb.debian.org/debian}
fi
PIXGW_MIRROR=${PIXGW_MIRROR%/}
mkdir -p "$OUT/dl/debootstrap-cache" "$GD"
rm -f "$GD/inputs.sha256"

# ---------------------------------------------------------------- 1. kernel
t=$(date +%s)
if [ ! -d "$OUT/kernel/boot" ]; then
    KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$KPKG" ]; then apt-get update -qq; KPKG=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
    [ -n "$KPKG" ] || { echo "cannot resolve linux-image-amd64" >&2; exit 1; }
    log "apt-get download $KPKG"
    (cd "$OUT/dl" && rm -f "${KPKG}"_*.deb && apt-get download "$KPKG" >/dev/null 2>&1)
    rm -rf "$OUT/kernel.new" && mkdir -p "$OUT/kernel.new"
    dpkg -x "$(ls "$OUT/dl/${KPKG}"_*.deb | head -1)" "$OUT/kernel.new"
    rm -rf "$OUT/kernel" && mv "$OUT/kernel.new" "$OUT/kernel"
fi
KVER=$(ls "$OUT/kernel/lib/modules" | head -1)
[ -f "$OUT/kernel/lib/modules/$KVER/modules.dep" ] || depmod -b "$OUT/kernel" "$KVER"
log "kernel $KVER ($(( $(date +%s) - t )) s)"

# ------------------------------------------------------ 2. Debian root (base)
COMMON="xl2tpd,ppp,iproute2,iputils-ping,tcpdump,qemu-guest-agent,busybox-static,kmod,procps,\
netbase,netcat-openbsd"
STRONGSWAN="strongswan-starter,strongswan-charon,strongswan-swanctl,strongswan-pki,charon-cmd,\
libstrongswan-standard-plugins,libstrongswan-extra-plugins,libcharon-extra-plugins"
case "$VARIANT" in
    client) PKGS="$STRONGSWAN,$COMMON" ;;
    gateway) PKGS="$STRONGSWAN,$COMMON,python3" ;;
    libreswan) PKGS="libreswan,bind9-host,dns-root-data,libnss3-tools,$COMMON" ;;  # host: virtual
esac
stamp="$SUITE $PIXGW_MIRROR $PKGS +updates +security"
t=$(date +%s)
if [ ! -f "$BASE/.stamp" ] || [ "$(cat "$BASE/.stamp")" != "$stamp" ]; then
    log "debootstrap --variant=minbase $SUITE ($PIXGW_MIRROR) for the $VARIANT guest"
    B=$BASE.new
    rm -rf "$B"
    debootstrap --variant=minbase --cache-dir="$OUT/dl/debootstrap-cache" --include="$PKGS" \
        "$SUITE" "$B" "$PIXGW_MIRROR" > "$OUT/debootstrap.log" 2>&1 || { tail -30 "$OUT/debootstrap.log" >&2; exit 1; }
    printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$PIXGW_MIRROR" "$SUITE" "$PIXGW_MIRROR" "$SUITE" "${PIXGW_MIRROR%/debian}/debian-security" "$SUITE" \
        > "$B/etc/apt/sources.list"
    printf '#!/bin/sh\nexit 101\n' > "$B/usr/sbin/policy-rc.d"; chmod 755 "$B/usr/sbin/policy-rc.d"
    if chroot "$B" apt-get -qq update >> "$OUT/debootstrap.log" 2>&1 &&
       DEBIAN_FRONTEND=noninteractive chroot "$B" apt-get -y -qq upgrade >> "$OUT/debootstrap.log" 2>&1; then
        log "guest root upgraded from $SUITE-updates/-security"
    else
        log "WARNING: apt-get upgrade in the guest root failed; continuing with $SUITE"
    fi
    chroot "$B" apt-get -qq clean
    echo "$stamp" > "$B/.stamp"
    rm -rf "$BASE" && mv "$B" "$BASE"
fi
log "base root ready ($(( $(date +%s) - t )) s)"

# ------------------------------------------------- 3. customise a copy
t=$(date +%s)
R=$OUT/rootfs$SUFFIX
rm -rf "$R" && cp -a "$BASE" "$R" && rm -f "$R/.stamp"
# kernel modules: the closure of what the client stack needs, plus the whole
# crypto / xfrm / ipv4 / l2tp / ppp / netfilter trees for on-demand loading
WANT="virtio_pci virtio_net virtio_console virtio_rng tun veth bridge
      esp4 ah4 xfrm_user xfrm4_tunnel xfrm_ipcomp af_key ipcomp
      l2tp_core l2tp_ppp l2tp_ip l2tp_netlink ppp_generic ppp_async ppp_synctty pppox
      des_generic des3_ede-x86_64 libdes authenc echainiv seqiv md5 md4 sha1_generic
      sha256_generic sha512_generic hmac gcm aesni-intel aes_generic cbc xcbc cmac
      nf_conntrack xt_policy nft_xfrm iptable_nat xt_MASQUERADE
      9p 9pnet_virtio dummy"
{
    for m in $WANT; do modprobe -d "$OUT/kernel" -S "$KVER" --show-depends "$m" 2>/dev/null || true; done |
        awk '$1=="insmod"{print $2}' | sed "s|^$OUT/kernel/||"
    M=lib/modules/$KVER/kernel
    (cd "$OUT/kernel" && find "$M/crypto" "$M/arch/x86/crypto" "$M/lib" "$M/net/ipv4" "$M/net/xfrm" \
        "$M/net/key" "$M/net/l2tp" "$M/net/netfilter" "$M/net/bridge" "$M/drivers/net/ppp" \
        "$M/net/9p" "$M/fs/9p" "$M/fs/netfs" "$M/fs/fscache" -name '*.ko*' 2>/dev/null)
} | sort -u | (cd "$OUT/kernel" && cpio -pdm --quiet "$R")
cp "$OUT/kernel/lib/modules/$KVER"/modules.builtin* "$OUT/kernel/lib/modules/$KVER/modules.order" "$R/lib/modules/$KVER/"
depmod -b "$R" "$KVER"
mkdir -p "$R/etc/modprobe.d"
echo "alias pppol2tp l2tp_ppp" > "$R/etc/modprobe.d/pixgw.conf"

G=$HERE/guest
install -m 755 "$G/init" "$R/init"
install -m 644 "$G/inittab" "$R/etc/inittab"
mkdir -p "$R/etc/pixgw"
install -m 755 "$G/rcS" "$G/rc.shutdown" "$G/run-qemu-ga" "$R/etc/pixgw/"
install -m 755 "$G/shutdown" "$R/usr/sbin/shutdown"
install -m 755 "$G/pixgw-l2tp" "$R/usr/local/sbin/pixgw-l2tp"
for f in reboot halt poweroff; do ln -sf /bin/busybox "$R/usr/sbin/$f"; done
if [ -d "$R/etc/strongswan.d" ]; then
    install -m 644 "$G/strongswan-log.conf" "$R/etc/strongswan.d/zz-pixgw.conf"
fi
printf 'config setup\n' > "$R/etc/ipsec.conf"
: > "$R/etc/ipsec.secrets"

# test PKI, made once with the guest's own pki tool; kept next to the guest
PK=$OUT/guest/pki
if [ "$VARIANT" != client ] && [ ! -f "$PK/client-cert.pem" ]; then
    echo "the $VARIANT guest takes the test PKI of the client guest: build that first" >&2; exit 1
fi
if [ "$VARIANT" != client ]; then
    rm -rf "$GD/pki" && cp -a "$PK" "$GD/pki"
elif [ ! -f "$PK/client-cert.pem" ]; then
    log "test PKI: CA, gateway cert (192.0.2.1, 192.0.2.3, gw.pixgw.test), client cert"
    rm -rf "$PK" && mkdir -p "$PK"
    chroot "$R" /bin/sh -e -c '
        cd /tmp
        pki --gen --type rsa --size 2048 --outform pem > ca-key.pem
        pki --self --ca --lifetime 3650 --in ca-key.pem --type rsa \
            --dn "C=XX, O=pixgw-interop, CN=pixgw interop CA" --outform pem > ca-cert.pem
        pki --gen --type rsa --size 2048 --outform pem > server-key.pem
        pki --pub --in server-key.pem --type rsa | pki --issue --lifetime 1825 \
            --cacert ca-cert.pem --cakey ca-key.pem --dn "C=XX, O=pixgw-interop, CN=gw.pixgw.test" \
            --san gw.pixgw.test --san 192.0.2.1 --san 192.0.2.3 \
            --flag serverAuth --flag ikeIntermediate --outform pem > server-cert.pem
        pki --gen --type rsa --size 2048 --outform pem > client-key.pem
        pki --pub --in client-key.pem --type rsa | pki --issue --lifetime 1825 \
            --cacert ca-cert.pem --cakey ca-key.pem --dn "C=XX, O=pixgw-interop, CN=client1.pixgw.test" \
            --san client1.pixgw.test --flag clientAuth --outform pem > client-cert.pem' 2> "$OUT/pki.log"
    mv "$R"/tmp/*.pem "$PK/"
fi
mkdir -p "$R/etc/pixgw/pki"
cp "$PK"/*.pem "$R/etc/pixgw/pki/"
rm -f "$R/etc/pixgw/pki/ca-key.pem"
chmod 600 "$R"/etc/pixgw/pki/*-key.pem

rm -rf "$R"/usr/share/doc/* "$R"/usr/share/man/* "$R"/usr/share/info/* "$R"/usr/share/locale/* \
       "$R"/var/cache/apt/*.bin "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/* \
       "$R"/usr/lib/udev/hwdb.bin "$R"/usr/lib/udev/hwdb.d "$R"/tmp/* "$R"/var/log/*.log
log "rootfs customised ($(( $(date +%s) - t )) s, $(du -sm "$R" | cut -f1) MiB)"

# ------------------------------------------------------------ 4. pack
t=$(date +%s)
cp "$OUT/kernel/boot/vmlinuz-$KVER" "$GD/vmlinuz"
(cd "$R" && find . -mindepth 1 -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) |
    zstd -q -T0 -10 > "$GD/initrd.img.new"
mv "$GD/initrd.img.new" "$GD/initrd.img"
log "initramfs packed ($(( $(date +%s) - t )) s)"
{
    echo "built: $(date -u +%FT%TZ)"
    echo "kernel: $KVER"
    echo "variant: $VARIANT"
    echo "build_s: $(( $(date +%s) - T0 ))"
    chroot "$R" dpkg-query -W -f='${Package} ${Version}\n' \
        strongswan-charon libreswan python3 xl2tpd ppp qemu-guest-agent 2>/dev/null || true
} > "$GD/build-info.txt"
echo "$HASH" > "$GD/inputs.sha256"
log "done in $(( $(date +%s) - T0 )) s"
