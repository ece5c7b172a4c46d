#!/usr/bin/env bash
# Installs, reinstalls, removes and purges the package with the real dpkg, in a private mount
# namespace where /etc, /usr and /var are overlays on scratch folders: the maintainer scripts
# run for real (adduser, dpkg-statoverride, systemctl on unit files) and the machine keeps none
# of it. Checks: the gridhub user and group once, /etc/gridhub root:gridhub 0750, a second
# install (the upgrade path) keeps an edited conffile and finds the user, removal disables an
# enabled unit and keeps the configs, purge removes configs, state folder and override.
# Usage: dpkg_cycle.sh WORK_DIR DEB (called by test_package.sh). Skips (exit 0 and a SKIP line)
# when not root, without overlayfs, or when a dependency of the package is not installed.
set -uo pipefail
work=$1
deb=$2
skip() {
  echo "SKIP dpkg cycle: $*"
  exit 0
}
[[ $(id -u) -eq 0 ]] || skip "needs root (a mount namespace with overlays)"
grep -qw overlay /proc/filesystems || skip "no overlayfs"
unshare --mount true 2>/dev/null || skip "no mount namespaces here (a container without CAP_SYS_ADMIN?)"
for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//; s/ //g'); do
  [[ $(dpkg-query -W -f='${Status}' "$dep" 2>/dev/null) == "install ok installed" ]] ||
    skip "dependency $dep is not installed"
done
dpkg-query -W gridhub >/dev/null 2>&1 && skip "gridhub is installed on this machine"
case $work/ in
  /etc/* | /usr/* | /var/*) skip "$work lies under a folder the overlays cover" ;;
esac

cycle='
set -u
ov=$1 deb=$2
for dir in etc usr var; do
  mkdir -p "$ov/$dir.upper" "$ov/$dir.work"
  mount -t overlay overlay -o "lowerdir=/$dir,upperdir=$ov/$dir.upper,workdir=$ov/$dir.work" "/$dir"
done
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
quiet() { "$@" >"$ov/last.log" 2>&1 || { cat "$ov/last.log"; return 1; }; }

quiet dpkg -i "$deb" || fail "dpkg -i failed"
[ "$(getent passwd gridhub | cut -d: -f6,7)" = "/var/lib/gridhub:/usr/sbin/nologin" ] ||
  fail "no gridhub system user with home /var/lib/gridhub: $(getent passwd gridhub)"
[ "$(stat -c %U:%G:%a /etc/gridhub)" = "root:gridhub:750" ] ||
  fail "/etc/gridhub is $(stat -c %U:%G:%a /etc/gridhub), want root:gridhub:750"
[ "$(/usr/bin/gridhub --version)" = "gridhub $(dpkg-query -W -f="\${Version}" gridhub)" ] ||
  fail "installed --version differs from the installed package version"
[ "$(dpkg-query -W -f="\${Conffiles}" gridhub | grep -c /etc/gridhub/)" = 3 ] || fail "conffiles not registered"

echo "# edited by the administrator" >>/etc/gridhub/hub.yaml
quiet systemctl enable gridhub-node.service || fail "systemctl enable (offline) failed"
wants=/etc/systemd/system/multi-user.target.wants/gridhub-node.service
[ -L "$wants" ] || fail "enable made no $wants"
quiet dpkg -i "$deb" || fail "second dpkg -i (upgrade path) failed"
[ "$(grep -c "^gridhub:" /etc/passwd)" = 1 ] || fail "postinst made the user twice"
tail -1 /etc/gridhub/hub.yaml | grep -q "edited by the administrator" ||
  fail "the edited hub.yaml was replaced"

mkdir -p /var/lib/gridhub/.config
quiet dpkg -r gridhub || fail "dpkg -r failed"
[ ! -e /usr/bin/gridhub ] || fail "dpkg -r left /usr/bin/gridhub"
[ ! -e /lib/systemd/system/gridhub-hub.service ] || fail "dpkg -r left the units"
[ ! -L "$wants" ] || fail "dpkg -r left gridhub-node.service enabled"
[ -f /etc/gridhub/hub.yaml ] || fail "dpkg -r removed the configuration"

quiet dpkg -P gridhub || fail "dpkg -P failed"
[ ! -e /etc/gridhub ] || fail "purge left /etc/gridhub: $(ls -la /etc/gridhub)"
[ ! -e /var/lib/gridhub ] || fail "purge left /var/lib/gridhub"
! dpkg-statoverride --list /etc/gridhub >/dev/null || fail "purge left the statoverride"
getent passwd gridhub >/dev/null || fail "purge removed the gridhub user (Debian keeps it)"
exit $((failures > 0))
'
mkdir -p "$work/overlay"
if unshare --mount --propagation private bash -c "$cycle" cycle "$work/overlay" "$deb"; then
  echo "dpkg cycle: install, reinstall, remove and purge as documented"
else
  exit 1
fi
