#!/bin/sh
# PID 1 of every harness VM (busybox sh in our initramfs). Disks, in order:
#   vda  rewriter root filesystem (bcc + python3), opened by qemu with snapshot=on
#   vdb  kernel disk: lib/modules/<kver> (with its build link) and usr/src headers, read-only
#   vdc  input tar: the guest program and the job, read-only
#   vdd  output disk: the guest program's results are written here as a tar
# Each step prints "HARNESS-STAGE <name>" on the console so the host can tell how far a dead guest got.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

stage() { echo "HARNESS-STAGE $*"; }
die() { stage "failed $*"; sync; echo o > /proc/sysrq-trigger; poweroff -f; sleep 60; }

stage init
for m in /modules/*.ko; do
  [ -e "$m" ] || continue
  insmod "$m" 2>/dev/null || stage "insmod-skipped ${m##*/}"
done

i=0
while [ ! -b /dev/vdd ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -b /dev/vdd ] || die "no-disks $(ls /dev | tr '\n' ' ')"

R=/newroot
mount -t ext4 /dev/vda $R || die mount-root
kver=$(uname -r)
mkdir -p $R/mnt/kernel $R/lib/modules/$kver $R/usr/src $R/run/harness/in $R/run/harness/out
mount -t ext4 -o ro /dev/vdb $R/mnt/kernel || die mount-kernel-disk
mount --bind $R/mnt/kernel/lib/modules/$kver $R/lib/modules/$kver || die bind-modules
mount --bind $R/mnt/kernel/usr/src $R/usr/src || die bind-headers
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mount -t tmpfs tmp $R/tmp
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null
tar -x -f /dev/vdc -C $R/run/harness/in || die unpack-input
ip link set lo up 2>/dev/null   # loopback for the tcp trigger; the VM has no other network
stage mounted "$kver"

env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 \
  chroot $R /usr/bin/python3 /run/harness/in/guest/runner.py /run/harness/in /run/harness/out
stage "runner-exit $?"

tar -c -f /dev/vdd -C $R/run/harness/out . || die pack-output
sync
stage done
echo o > /proc/sysrq-trigger
poweroff -f
sleep 60
