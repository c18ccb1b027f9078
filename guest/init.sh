#!/usr/bin/busybox sh
# linux-builder guest init: PID 1 of the builder VM.
#
# The composer installs this file as /init in the initramfs. It runs in two stages:
#   stage 1 moves the root onto a bind mount of itself (the Nix sandbox's pivot_root
#           fails with EINVAL on the initramfs rootfs) and re-executes itself there;
#   stage 2 brings the system up: sshd and the Nix daemon first (the daemon reachable only once /nix
#           is there), the network in the background beside the disk's modules, the power button
#           and the check and mount of /nix; READY once all are there; then swap, the services and a
#           login on the serial console; then it waits for a stop.
# The host appends a per-boot archive to the initramfs, under /.linux-builder/ (src/guest/boot-archive.ts):
# the secrets, and the boot parameters that say what the VM looks like from inside (network, data
# disk, console, power button): nothing here assumes a particular virtual machine.
# Everything it prints goes to the console, which the host logs; the host waits for the READY line.
# The lines the host reads are declared in src/guest/console-lines.ts.
# The functions come in boot order; the main sequence is at the bottom.

# Debian's static busybox runs its own applets before PATH (FEATURE_PREFER_APPLETS), so tools that
# busybox also has (mke2fs, e2fsck) are called by full path.
export PATH=/usr/sbin:/usr/bin:/usr/libexec/busybox
BB=/usr/bin/busybox
BOOT_ARCHIVE=/.linux-builder
STATE=/run/linux-builder
SWAPFILE=/nix/var/linux-builder/swap

log() { echo "linux-builder: $*"; }
# The kernel's uptime in seconds into $up, for the lines the host reads: read by the shell itself,
# as a command substitution is a fork (tens of milliseconds under TCG, on the boot's critical path).
read_uptime() { read -r up _ </proc/uptime; }
fail() {
  echo "linux-builder: FAILED: $*"
  # Drop to a shell on the console for a human; the host sees FAILED and gives up waiting.
  exec $BB setsid $BB cttyhack $BB sh
}

# ---- Stage 1 ---------------------------------------------------------------------------------
move_root() {
  # Busybox applets are commands, behind the real tools in PATH: the composer made their symlinks;
  # an image without them gets them here.
  $BB mkdir -p /usr/libexec/busybox /mnt/root
  [ -e /usr/libexec/busybox/sh ] || $BB --install -s /usr/libexec/busybox
  mount -o bind / /mnt/root || fail "cannot bind-mount the root"
  cd /mnt/root || fail "cannot enter the new root"
  mount -o move . / || fail "cannot move the root"
  exec chroot . /init stage2
}

# ---- Stage 2 ---------------------------------------------------------------------------------
# A stop request may come at any moment from here on (the host can ask for a power-down as soon as
# it sees READY, or earlier): the handler is installed first. Signals to PID 1 without a handler
# are dropped by the kernel.
stop_requested=
stopping=
request_stop() { stop_requested=1; }
handle_stop_requests() {
  # busybox poweroff/halt/reboot without -f signal PID 1: USR2 power off, USR1 halt, TERM reboot.
  trap request_stop USR1 USR2 TERM INT
}

mount_kernel_filesystems() {
  # sshd's StrictModes refuses a world-writable root; the initramfs root is 1777.
  chmod 755 /
  mkdir -p /proc /sys /dev /run /tmp
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs devtmpfs /dev
  mkdir -p /dev/pts /dev/shm
  mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
  mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
  mkdir -p $STATE /run/sshd /var/log /var/empty
  chmod 700 $STATE
}

# The boot parameters (src/guest/boot-parameters.ts): key=value lines, each value checked by the
# host against a strict charset; read into variables, never evaluated.
read_boot_parameters() {
  [ -f $BOOT_ARCHIVE/parameters ] ||
    fail "no boot parameters ($BOOT_ARCHIVE/parameters): the host appends them to the initramfs at each boot"
  while IFS== read -r key value; do
    case "$key" in
    network) network=$value ;;
    address) address=$value ;;
    gateway) gateway=$value ;;
    nameserver) nameserver=$value ;;
    data_disk) disk=$value ;;
    console) console=$value ;;
    power_button) power_button=$value ;;
    # One registration line per emulated system; they hold no spaces (boot-parameters.ts checks).
    binfmt) binfmt_lines="$binfmt_lines $value" ;;
    esac
  done <$BOOT_ARCHIVE/parameters
  [ -n "$network" ] && [ -n "$disk" ] && [ -n "$console" ] && [ -n "$power_button" ] ||
    fail "incomplete boot parameters: $(cat $BOOT_ARCHIVE/parameters)"
}

# Per-boot secrets: the host key and the builder's authorized key, never part of the shared image.
install_secrets() {
  install -m 600 -o root -g root $BOOT_ARCHIVE/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
  install -m 644 -o root -g root $BOOT_ARCHIVE/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
  install -d -m 700 -o builder -g builder /home/builder/.ssh
  install -m 600 -o builder -g builder $BOOT_ARCHIVE/authorized_keys /home/builder/.ssh/authorized_keys
  # This install's Nix settings (features, garbage collection, caches): nix.conf includes them.
  [ -f $BOOT_ARCHIVE/nix.conf ] && install -m 644 -o root -g root $BOOT_ARCHIVE/nix.conf /etc/nix/nix.boot.conf
  # The user's CAs (caCertificates) after Debian's set, before the daemon reads the bundle.
  [ -s $BOOT_ARCHIVE/ca-certificates.crt ] && cat $BOOT_ARCHIVE/ca-certificates.crt >>/etc/ssl/ca-certificates.crt
}

# sshd listens on port 22: 0016 in /proc/net/tcp*, state 0A.
sshd_listening() {
  while read -r _ local _ state _; do
    case "$local" in *:0016) [ "$state" = 0A ] && return 0 ;; esac
  done </proc/net/tcp
  while read -r _ local _ state _; do
    case "$local" in *:0016) [ "$state" = 0A ] && return 0 ;; esac
  done </proc/net/tcp6 2>/dev/null
  return 1
}

# sshd starts first: it needs neither the network (it listens on all addresses) nor the disk, and
# it comes up while the kernel modules load and the disk is checked; READY waits for all of them.
start_sshd() {
  [ -f /etc/ssh/ssh_host_ed25519_key ] && /usr/sbin/sshd -E /var/log/sshd.log &
}

# Kernel modules, in the order the composer computed from each module's dependencies: those the
# boot needs (disk, network) now (/etc/linux-builder/modules), the rest (entropy, the power button)
# in the background (modules.late). The second argument picks from the list: the network's (the
# kernel tree's drivers/net and net, which depend only on each other and on what is built in), the
# others', or all. The network's load beside the others', each insmod being a process of its own.
load_modules() {
  [ -f "$1" ] || return 0
  while read -r module; do
    [ -n "$module" ] || continue
    case "$module" in
    */kernel/drivers/net/* | */kernel/net/*) [ "$2" = others ] && continue ;;
    *) [ "$2" = network ] && continue ;;
    esac
    insmod "/usr/lib/modules/$module" || log "cannot load the kernel module $module"
  done <"$1"
}

# The other Linux systems' interpreters (qemu-user, in the image), as the boot parameters ask
# (src/guest/binfmt.ts makes the lines): before the Nix daemon takes connections, whose extra-platforms
# promise them. The F flag has the kernel open the interpreter now, so builds in Nix's sandbox,
# which has no /usr/bin, run it too.
register_emulators() {
  [ -n "$binfmt_lines" ] || return 0
  binfmt=/proc/sys/fs/binfmt_misc
  [ -e $binfmt/register ] || mount -t binfmt_misc binfmt_misc $binfmt ||
    fail "cannot mount binfmt_misc at $binfmt: the kernel module binfmt_misc did not load"
  for line in $binfmt_lines; do
    name=${line#:}
    name=${name%%:*}
    # printf, not echo: the kernel decodes the line's \x escapes, the shell must not.
    state=
    printf '%s\n' "$line" >$binfmt/register 2>/dev/null && read -r state <$binfmt/$name && [ "$state" = enabled ] ||
      fail "cannot register $name with binfmt_misc (is its interpreter in the image?): $line"
    log "emulating with $name (binfmt_misc)"
  done
}

# The first interface besides lo, as the boot parameters say: fixed addresses, or a DHCP lease.
configure_network() {
  # The kernel's own file rather than busybox's hostname: one fork less.
  echo linux-builder >/proc/sys/kernel/hostname
  ip link set lo up
  interface=
  for dev in /sys/class/net/*; do
    [ "${dev##*/}" = lo ] && continue
    interface=${dev##*/}
    ip link set "$interface" up
    break
  done
  case "$network" in
  static)
    if [ -n "$interface" ]; then
      ip addr add "$address" dev "$interface"
      ip route add default via "$gateway" dev "$interface"
    fi
    echo "nameserver $nameserver" >/etc/resolv.conf
    ;;
  dhcp)
    [ -n "$interface" ] || fail "no network interface to ask DHCP for an address on"
    # Busybox's udhcpc: it returns once the first lease is applied (by the script), then stays in
    # the background to renew it.
    udhcpc -i "$interface" -s /usr/lib/linux-builder/dhcp-event -n -t 10 -T 1 >/var/log/udhcpc.log 2>&1 ||
      fail "no DHCP lease on $interface: $(tail -n 3 /var/log/udhcpc.log)"
    ;;
  *) fail "unknown network setting: $network" ;;
  esac
}

# The host is told as soon as sshd listens and the network is up, so its ssh handshake overlaps the
# rest of the boot.
announce_sshd() {
  [ -f /etc/ssh/ssh_host_ed25519_key ] || return 0
  j=0
  until sshd_listening || [ $j -ge 600 ]; do
    sleep 0.05
    j=$((j + 1))
  done
  sshd_listening && read_uptime && log "SSHD at ${up}s"
}

# The network's path of the boot, run in the background beside the disk's (mount_nix is the
# longer): its modules and the interface up; then, on its own, the word that sshd listens (READY
# checks sshd itself). Only PID 1 fails the boot: here a failure is written down and the job exits
# with it, for PID 1 to fail with (one FAILED, one rescue shell, nothing after it).
NETWORK_FAILURE=$STATE/network-failure
bring_up_network() {
  fail() {
    echo "$*" >$NETWORK_FAILURE
    exit 1
  }
  load_modules /etc/linux-builder/modules network
  configure_network
  announce_sshd &
}

# /nix lives on the data disk: formatted on first boot (when the disk is blank), checked on later
# boots. A disk that is not blank and not a clean ext4 is never formatted: the store on it may be
# someone's only copy.
mount_nix() {
  [ -b "$disk" ] || fail "no data disk ($disk) for /nix: the virtio_blk module did not load, or the VM has no disk"
  formatted=
  if [ -z "$(dd if="$disk" bs=65536 count=1 2>/dev/null | tr -d '\000' | head -c 1)" ]; then
    log "formatting $disk for /nix"
    formatted=1
    # A new disk is a sparse file of zeros: discarding it first (mke2fs's default) is work for nothing,
    # and so is zeroing its inode tables, which the kernel otherwise does in the background after the
    # first boots (ext4lazyinit: a minute of disk writes and wake-ups on an idle builder).
    # The default 5 % reserved for root stays: the daemon (root) keeps working when builds (nixbld)
    # fill the disk, and collects the garbage that frees it.
    /usr/sbin/mke2fs -q -t ext4 -L lb-nix -E assume_storage_prezeroed=1,nodiscard "$disk" ||
      fail "cannot format $disk"
  else
    /usr/sbin/e2fsck -p "$disk"
    # 0: clean, 1: errors corrected; anything else needs a human (e2fsck -f -y from the console).
    [ $? -le 1 ] || fail "the /nix disk $disk has errors e2fsck -p cannot fix; run e2fsck $disk here"
  fi
  mkdir -p /nix
  mount -t ext4 -o noatime "$disk" /nix || fail "cannot mount $disk on /nix"
  # The host grows the disk when diskGiB is raised: grow the file system with it, online, off the
  # boot's critical path (a no-op otherwise; a file system just made fills its disk already).
  [ -n "$formatted" ] ||
    (/usr/sbin/resize2fs "$disk" >/dev/null 2>&1 || log "cannot grow the /nix file system to the disk's size") &
  mkdir -p /nix/store /nix/var/nix
  chown root:nixbld /nix/store
  chmod 1775 /nix/store
  # A blank store's database is made by the daemon when it first opens the store: `nix-store --init`
  # here cost a first boot 0.5 s under TCG.
  chown -R builder:builder /home/builder
}

# The Nix daemon starts at the top of stage 2, beside the modules and the disk: its own start (one to
# several seconds under TCG) is then off the boot's critical path. Until /nix is mounted it listens
# in a folder only root can enter, which no connection reaches; open_nix_daemon then links Nix's
# socket path to it and opens the folder. Nix run as root unshares its mount namespace as it starts:
# the root's mounts are made shared first (as systemd has them elsewhere), so that /nix, mounted
# later, reaches the daemon too (without, its workers saw the initramfs's empty /nix).
# Builds run on the /nix disk, not in /tmp (a tmpfs of half the RAM: a build writing more than that
# failed with "No space left on device" while the disk was empty). Nix makes each build's folder
# in TMPDIR.
DAEMON_RUN=/run/nix-daemon
DAEMON_SOCKET=/nix/var/nix/daemon-socket/socket
start_nix_daemon() {
  mount --make-rshared / || fail "cannot make the root's mounts shared (the Nix daemon would not see /nix)"
  mkdir -m 700 $DAEMON_RUN
  NIX_DAEMON_SOCKET_PATH=$DAEMON_RUN/socket TMPDIR=/nix/var/nix/builds nix-daemon >/var/log/nix-daemon.log 2>&1 &
}

# Once /nix is mounted and the emulators registered (the daemon's extra-platforms promise them).
open_nix_daemon() {
  mkdir -p /nix/var/nix/builds ${DAEMON_SOCKET%/*}
  chmod 755 /nix/var/nix/builds
  # Whatever a previous boot left there (its daemon's socket, or this link) is replaced: READY waits
  # for this boot's daemon.
  rm -f $DAEMON_SOCKET
  ln -s $DAEMON_RUN/socket $DAEMON_SOCKET
  chmod 755 $DAEMON_RUN
}

# A control FIFO lets the builder user stop the VM without root: `shutdown now` writes to it.
serve_control_fifo() {
  mkfifo -m 620 $STATE/control
  chown root:builder $STATE/control
  chmod 711 $STATE
  (
    while :; do
      if read -r request <$STATE/control; then
        case "$request" in
        poweroff | halt | shutdown | reboot) kill -USR2 1 ;;
        esac
      fi
    done
  ) &
}

# The power button, as the boot parameters say the VM has it. The late modules load in the
# background either way, beside the disk's check (they need only the boot's other modules), and
# READY waits for them: a power-down asked for once the login prompt shows (`run`: Ctrl-a c,
# system_powerdown) must be heard; earlier in a boot, stop's QMP quit answers it.
POWER_BUTTON_ARMED=$STATE/power-button-armed
watch_power_button() {
  # The ACPI power button (QMP system_powerdown) reaches us through busybox acpid, once its modules
  # are in.
  (
    load_modules /etc/linux-builder/modules.late
    [ "$power_button" = acpi ] && acpid -c /etc/acpi -l /var/log/acpid.log
    : >$POWER_BUTTON_ARMED
  ) &
  [ "$power_button" = pl061-gpio ] && watch_gpio_power_button
}

# arm64's virt machine boots from a device tree, without ACPI: there the power button is line 3 of
# the PL061 GPIO controller, pulsed for 100 ms, and Debian's cloud kernel has no gpio-keys driver for
# it. We arm an edge interrupt on the line through sysfs and watch its count in /proc/interrupts,
# which a short pulse cannot slip past; shell builtins only, so the poll forks nothing.
gpio_irq_line() {
  gpio_irq=
  while read -r gpio_line; do
    case "$gpio_line" in *gpiolib*) gpio_irq=$gpio_line && return ;; esac
  done </proc/interrupts
}
watch_gpio_power_button() {
  for chip in /sys/class/gpio/gpiochip*; do
    [ -r "$chip/label" ] || continue
    case "$(cat "$chip/label")" in *pl061*) ;; *) continue ;; esac
    pin=$(($(cat "$chip/base") + 3))
    echo "$pin" >/sys/class/gpio/export 2>/dev/null
    if echo rising >"/sys/class/gpio/gpio$pin/edge" 2>/dev/null; then
      (
        # The pause is a read that times out on a FIFO nobody writes: busybox's sleep is a new process,
        # two a second for as long as the builder idles.
        if mkfifo -m 600 $STATE/gpio-tick && exec 3<>$STATE/gpio-tick; then
          pause() { read -r -t 0.5 -u 3 _; }
        else
          pause() { sleep 0.5; }
        fi
        rm -f $STATE/gpio-tick
        gpio_irq_line
        armed=$gpio_irq
        while :; do
          pause
          gpio_irq_line
          if [ "$gpio_irq" != "$armed" ]; then
            armed=$gpio_irq
            kill -USR2 1
          fi
        done
      ) &
    fi
    break
  done
}

# Ready: the Nix daemon's socket exists, sshd listens (see sshd_listening) and the power button is
# watched.
wait_until_ready() {
  i=0
  until [ -S $DAEMON_SOCKET ] && [ -e $POWER_BUTTON_ARMED ] &&
    { [ ! -f /etc/ssh/ssh_host_ed25519_key ] || sshd_listening; }; do
    [ $i -lt 600 ] || fail "not ready after 30 s: nix-daemon: $(tail -n 3 /var/log/nix-daemon.log) sshd: $(tail -n 3 /var/log/sshd.log) power button: $([ -e $POWER_BUTTON_ARMED ] && echo watched || echo "not watched yet ($power_button)")"
    [ -n "$stop_requested" ] && break
    sleep 0.05
    i=$((i + 1))
  done
  [ -n "$stop_requested" ] || { read_uptime && log "READY at ${up}s"; }
}

# ---- Swap ------------------------------------------------------------------------------------
# A build that needs more memory than the guest has slows down instead of being killed: a swap file
# on the /nix disk. Not zram: zram keeps the pages in the guest's own RAM, compressed (1 GiB of zram
# in a 1 GiB guest could not hold 1.5 GiB of the image's programs in a tmpfs; the swap file did),
# while the disk adds what it is given; and the initramfs root's pages (a tmpfs) can move out to it.
# It is as large as the guest's memory, and at most an eighth of the disk (which also holds the
# store and its min-free): a build needing more than about twice the memory is better served by a
# larger memoryMiB. fallocate reserves the blocks without writing them, so the disk's sparse file on
# the host does not grow until pages are swapped out, and discarding (swapon -d) gives the host back
# what swap no longer holds: all of it at each boot, and each page as it is freed.
# After READY, off the boot's critical path: made and switched on beside the Nix daemon's start,
# it delayed READY by about a second under TCG; nothing before READY needs it.
# Sets swap_mib.
swap_size_mib() {
  while read -r key value _; do
    [ "$key" = MemTotal: ] && break
  done </proc/meminfo
  read -r sectors </sys/block/${disk#/dev/}/size
  swap_mib=$((value / 1024))
  [ $swap_mib -le $((sectors / 2048 / 8)) ] || swap_mib=$((sectors / 2048 / 8))
}
start_swap() {
  swap_size_mib
  if [ $swap_mib -lt 64 ]; then
    log "no swap: the /nix disk is too small for it"
    return
  fi
  if [ "$(stat -c %s $SWAPFILE 2>/dev/null)" != $((swap_mib * 1048576)) ]; then
    rm -f $SWAPFILE
    mkdir -p ${SWAPFILE%/*}
    (umask 077 && fallocate -l $((swap_mib * 1048576)) $SWAPFILE && mkswap $SWAPFILE >/dev/null) || {
      rm -f $SWAPFILE
      log "no swap: cannot make a swap file of $swap_mib MiB on /nix"
      return
    }
  fi
  # The disk is a file on the host, whose own storage does any seeking: as a rotational disk it
  # gained nothing, but kept swap from discarding pages as it frees them (the kernel does that only
  # for solid-state devices), so the host's file stayed at its largest after a big build.
  echo 0 >/sys/block/${disk#/dev/}/queue/rotational
  swapon -d $SWAPFILE || log "no swap: cannot swap on $SWAPFILE"
}

# ---- After READY -----------------------------------------------------------------------------
# The kernel's fair server (6.12: a deadline server that keeps 5 % of each CPU for ordinary tasks
# when real-time ones would take it all) re-arms its timer every period while tasks come and go:
# once a second on each CPU, the most frequent of an idle builder's own wake-ups (tracefs), and under
# TCG each wake-up is host CPU. The same 5 % over 4 s (about the longest period it takes) keeps the
# guarantee and wakes a quarter as often. Only debugfs sets it: mounted for that, then unmounted. A
# kernel without it (or without debugfs) keeps its own.
slow_fair_server() {
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || return 0
  for server in /sys/kernel/debug/sched/fair_server/cpu*; do
    # The period first: the runtime may never exceed it.
    [ -w "$server/period" ] && echo 4000000000 >"$server/period" && echo 200000000 >"$server/runtime"
  done 2>/dev/null
  umount /sys/kernel/debug
}

start_services() {
  slow_fair_server
  # The wall clock follows the host's through the VM's RTC, also after the host slept (see the script).
  /usr/lib/linux-builder/follow-host-clock &
  # The store is collected when /nix runs low, to the end (Nix's own collection dies with the
  # connection that started it; see the script).
  /usr/lib/linux-builder/collect-when-low &
}

# A login on the serial console the boot parameters name, as the seed shows; auto-login as builder.
start_console_login() {
  (
    while :; do
      setsid getty -n -l /usr/lib/linux-builder/autologin 115200 "$console" vt100
      sleep 1
    done
  ) &
}

# ---- Stopping --------------------------------------------------------------------------------
# Other processes than PID 1 and kernel threads (those have an empty cmdline).
others_running() {
  for proc in /proc/[0-9]*; do
    [ "${proc#/proc/}" = 1 ] && continue
    { read -r cmdline <"$proc/cmdline"; } 2>/dev/null || continue
    [ -n "$cmdline" ] && return 0
  done
  return 1
}

stop_everything() {
  stopping=1
  log "stopping"
  kill -TERM -1 2>/dev/null
  # Give the daemon and running builds up to 5 s to exit, then kill what is left. Most are gone
  # within a few tens of milliseconds: looked for in short steps, not in tenths of a second.
  i=0
  while others_running && [ $i -lt 250 ]; do
    sleep 0.02
    i=$((i + 1))
  done
  others_running && log "killing what did not stop in 5 s" && kill -KILL -1 2>/dev/null && sleep 0.2
  # The swap file keeps /nix busy. With the builds gone, what is left in swap fits back in memory.
  swapoff $SWAPFILE 2>/dev/null
  # Unmounting (or remounting read-only) writes the store back itself: a sync of its own only when
  # both fail (the root is in RAM, /nix the only disk).
  if ! umount /nix && ! mount -o remount,ro /nix; then
    sync
    log "cannot unmount or remount /nix read-only: e2fsck will check it at the next boot"
  fi
  log "powering off"
  poweroff -f
}

# PID 1 must never exit. `wait` returns when a signal arrives (the traps run), and reaps orphans.
# The pause keeps a PID 1 without children from spinning; a stop request skips it.
wait_for_stop() {
  while :; do
    if [ -n "$stop_requested" ] && [ -z "$stopping" ]; then
      stop_everything
    fi
    wait
    [ -n "$stop_requested" ] && [ -z "$stopping" ] || sleep 0.2
  done
}

# ---- Main ------------------------------------------------------------------------------------
[ "$1" = stage2 ] || move_root
handle_stop_requests
mount_kernel_filesystems
read_uptime
log "stage 2 at ${up}s"
read_boot_parameters
install_secrets
rm -rf $BOOT_ARCHIVE
start_sshd
start_nix_daemon
bring_up_network &
network_up=$!
load_modules /etc/linux-builder/modules others
watch_power_button
register_emulators
mount_nix
open_nix_daemon
serve_control_fifo
# A stop request interrupts the wait (its trap runs), and wait_until_ready then ends at once.
wait $network_up || [ -n "$stop_requested" ] || fail "$(cat $NETWORK_FAILURE 2>/dev/null || echo 'the network did not come up')"
wait_until_ready
[ -n "$stop_requested" ] || start_swap &
start_services
start_console_login
wait_for_stop
