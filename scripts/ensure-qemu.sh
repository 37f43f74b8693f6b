#!/bin/sh
# Install what the VM backend needs when absent: QEMU (system emulator + qemu-img), a guest kernel with
# its modules (/boot/vmlinuz-*, /lib/modules/*: virtio_mmio, virtio_net, virtio_blk and ext4 are modules
# in Debian's kernel), a static busybox for the initramfs, and e2fsprogs (mkfs.ext4 -d builds root disks).
set -eu
here=$(dirname "$0")
need=""
command -v qemu-system-x86_64 >/dev/null 2>&1 || need="$need qemu-system-x86"
command -v qemu-img >/dev/null 2>&1 || need="$need qemu-utils"
ls /boot/vmlinuz-* >/dev/null 2>&1 || need="$need linux-image-amd64"
# a static busybox: ldd refuses it ("not a dynamic executable"); `file` may not be installed
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need="$need busybox-static"
command -v mkfs.ext4 >/dev/null 2>&1 || need="$need e2fsprogs"
command -v cpio >/dev/null 2>&1 || need="$need cpio"
[ -z "$need" ] && exit 0
echo "installing for the VM backend:$need (about a minute)" >&2
"$here/apt-get.sh" update -qq
# shellcheck disable=SC2086
"$here/apt-get.sh" install -y -qq --no-install-recommends $need >/dev/null
