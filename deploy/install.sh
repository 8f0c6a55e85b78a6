#!/usr/bin/env bash
# Install mleg-verifier on a Raspberry Pi so it boots straight into the inspector's app.
#
#   sudo deploy/install.sh --anchor /path/to/anchor.pem --list-url https://lists.example/ml1
#   sudo deploy/install.sh            # asks for the anchor and the list URL on a terminal
#   deploy/install.sh --check         # what is missing, and the installed kit's self-test
#   deploy/install.sh --dry-run       # prints every step instead of doing it
#   sudo deploy/install.sh --rollback # back to the version installed before this one
#   sudo deploy/install.sh --screen console   # the Linux console instead of the kiosk
#
# Run from a release bundle (deploy/make-bundle.sh: the wheel and a wheelhouse of pinned
# dependencies) it needs no network for Python packages; from a source tree pip fetches them,
# pinned by deploy/constraints-pi.txt. Each version gets its own venv under
# /opt/mleg-verifier/venvs and /opt/mleg-verifier/current points at the one in use, switched
# atomically; --rollback switches back. Re-run it to upgrade: it never duplicates the user and
# never overwrites an existing config. See deploy/README.md. Exit codes: 0 done (or nothing
# missing), 1 --check found something missing or failing, 2 usage or input error,
# 3 unsupported system.
set -euo pipefail

APP=mleg-verifier
SERVICE_USER=mleg
PREFIX=/opt/$APP
VENVS=$PREFIX/venvs
# The venv in use: a symlink to one of $VENVS, replaced with a rename (atomic); the units run
# $VENV/bin/verifier. $PREFIX/previous points at the one before, for --rollback.
VENV=$PREFIX/current
PREVIOUS=$PREFIX/previous
LEGACY_VENV=$PREFIX/venv # installs before venvs per version
KEEP_VENVS=3             # current, previous and one more; older ones are removed
ETC=/etc/$APP
STATE=/var/lib/$APP
CONFIG=$ETC/config.toml
ANCHOR=$ETC/anchor.pem
UNIT_DIR=/etc/systemd/system
UNITS=(mleg-verifier.service mleg-verifier-sync.service mleg-verifier-sync.timer
    mleg-verifier-metrics.service mleg-verifier-metrics.timer)
ENABLE=(mleg-verifier.service mleg-verifier-sync.timer mleg-verifier-metrics.timer)
TIMERS=(mleg-verifier-sync.timer mleg-verifier-metrics.timer)
# node_exporter's textfile collector directory (Debian's prometheus-node-exporter default).
TEXTFILE_DIR=/var/lib/prometheus/node-exporter
# Debian packages: the Pi camera stack (Raspberry Pi archive only), venv support, the numpy
# picamera2 is built against (the venv must not shadow it), GPIO for the buzzer, and a saved
# clock for boards without a real-time clock, and the time zone data (without it Warsaw's
# local time silently falls back to UTC). The decoder is zxing-cpp (a wheel): no zbar.
PI_PACKAGES=(python3-picamera2 python3-lgpio)
PACKAGES=(python3-venv python3-numpy python3-gpiozero fake-hwclock tzdata)
GROUPS_WANTED=(video gpio)
MIN_DEBIAN=12 # bookworm
# The screen: "kiosk" (the default) runs the app in foot under the cage compositor, with
# the photo in real pixels; "console" runs it on the Linux console (tty1), half-block photo.
KIOSK_UNIT=mleg-verifier-kiosk.service
CONSOLE_UNIT=mleg-verifier.service
KIOSK_PACKAGES=(cage foot fonts-dejavu-core)
FOOT_INI=$ETC/foot.ini
SCREEN=""

ROOT=""
DRY_RUN=0
CHECK=0
ROLLBACK=0
FORCE=0
ANCHOR_FROM=""
LIST_URL=""
LIST_URL_GIVEN=0
SOURCE=""
CLOCK_SOURCE="ntp"

usage() {
    cat <<EOF
Usage: install.sh [--anchor FILE] [--list-url URL] [--check | --dry-run] [--root DIR]
                  [--source DIR] [--force] [--screen kiosk|console]
       install.sh --rollback [--dry-run]

Installs mleg-verifier as an appliance on Raspberry Pi OS (Bookworm or later): apt packages,
a venv per version in $VENVS ($VENV is the one in use), the system user
'$SERVICE_USER', $ETC (config, trust anchor), $STATE (list cache) and the systemd
units (app on tty1, list sync timer, metrics timer).

  --anchor FILE    trust anchor (PEM public key) to install; replaces a different one
                   (the old one is kept as anchor.pem.<time>.old): that is anchor rotation
  --list-url URL   where the signed lists are published (http:// or https://); used only
                   when the config is first written
  --check          report what is missing and run the installed kit's self-test (config,
                   anchor, lists, camera, one test code, units); change nothing; exit 1 on any
  --dry-run        print what would be done, change nothing
  --rollback       switch back to the previously installed version and restart the app
  --root DIR       act on the system image under DIR (only with --check or --dry-run)
  --source DIR     the mleg-verifier source tree or release bundle (default: the one
                   holding this script); a bundle installs with no network
  --rtc            the kit has a battery-backed clock (Pi 5 with its battery, a DS3231):
                   trust the system clock as it is (config clock = "system"); without it
                   the kit trusts its clock only once NTP has set it since boot ("ntp")
  --force          install on a system that is not Raspberry Pi OS on a Pi (plain Debian 12
                   or later, for testing: no Pi camera packages, camera source "opencv")
  --screen MODE    kiosk: the app full screen in foot under cage (truecolour, the photo in
                   real pixels); console: on the Linux console of tty1. Default: the mode
                   already installed, else kiosk
  -h, --help       this text

Without --anchor or --list-url, install.sh asks on a terminal when it needs them.
EOF
}

die() { # die CODE MESSAGE
    printf 'install.sh: %s\n' "$2" >&2
    exit "$1"
}

while (($#)); do
    case $1 in
    --anchor) ANCHOR_FROM=${2:?--anchor needs a file}; shift 2 ;;
    --anchor=*) ANCHOR_FROM=${1#*=}; shift ;;
    --list-url) LIST_URL=${2?--list-url needs a URL}; LIST_URL_GIVEN=1; shift 2 ;;
    --list-url=*) LIST_URL=${1#*=}; LIST_URL_GIVEN=1; shift ;;
    --check) CHECK=1; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --root=*) ROOT=${1#*=}; shift ;;
    --source) SOURCE=${2:?--source needs a directory}; shift 2 ;;
    --source=*) SOURCE=${1#*=}; shift ;;
    --rtc) CLOCK_SOURCE="system"; shift ;;
    --force) FORCE=1; shift ;;
    --screen) SCREEN=${2:?--screen needs kiosk or console}; shift 2 ;;
    --screen=*) SCREEN=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die 2 "unknown option: $1" ;;
    esac
done

ROOT=${ROOT%/}
if [[ -n $ROOT ]]; then
    [[ -d $ROOT ]] || die 2 "--root $ROOT is not a directory"
    ROOT=$(cd "$ROOT" && pwd)
    [[ $ROOT == / ]] && ROOT=""
fi
if [[ -n $ROOT ]] && ((!CHECK && !DRY_RUN)); then
    die 2 "--root works only with --check or --dry-run (commands cannot run inside $ROOT)"
fi
((CHECK && DRY_RUN)) && die 2 "use --check or --dry-run, not both"
((CHECK && ROLLBACK)) && die 2 "use --check or --rollback, not both"
[[ -z $SCREEN || $SCREEN == kiosk || $SCREEN == console ]] ||
    die 2 "--screen must be kiosk or console, not $SCREEN"
SOURCE=${SOURCE:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUNDLE=0
if [[ -f $SOURCE/BUNDLE && -d $SOURCE/wheels && -d $SOURCE/systemd ]]; then
    BUNDLE=1
elif [[ ! -f $SOURCE/pyproject.toml || ! -d $SOURCE/systemd ]]; then
    die 2 "$SOURCE is neither the mleg-verifier source tree (pyproject.toml, systemd/) nor a release bundle (BUNDLE, wheels/)"
fi
CONSTRAINTS=$SOURCE/deploy/constraints-pi.txt

# The version being installed, and the name of its venv: VERSION-COMMIT. A build that is not
# one commit (a changed tree, no git) gets the time too, so every run of it is a new venv.
bundle_field() { sed -n "s/^$1=//p" "$SOURCE/BUNDLE" | head -n 1; }
if ((BUNDLE)); then
    NEW_VERSION=$(bundle_field VERSION)
    NEW_COMMIT=$(bundle_field COMMIT)
else
    NEW_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SOURCE/pyproject.toml" | head -n 1)
    NEW_COMMIT=$(git -C "$SOURCE" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    if [[ $NEW_COMMIT != unknown ]] &&
        [[ -n $(git -C "$SOURCE" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
        NEW_COMMIT=$NEW_COMMIT-dirty
    fi
fi
[[ $NEW_VERSION =~ ^[A-Za-z0-9.+_-]+$ && $NEW_COMMIT =~ ^[A-Za-z0-9_-]+$ ]] ||
    die 2 "cannot tell the version being installed ($SOURCE: version '$NEW_VERSION', commit '$NEW_COMMIT')"
NEW_ID=$NEW_VERSION-$NEW_COMMIT
[[ $NEW_COMMIT == unknown || $NEW_COMMIT == *-dirty ]] && NEW_ID=$NEW_ID-$(date -u +%Y%m%dT%H%M%S)

# ---- helpers ------------------------------------------------------------------------------
say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# run CMD...: a command that changes the system; printed instead under --dry-run.
run() {
    if ((DRY_RUN)); then
        printf 'would run:'
        printf ' %q' "$@"
        printf '\n'
    else
        printf '+'
        printf ' %q' "$@"
        printf '\n'
        "$@"
    fi
}

# put_file DEST MODE OWNER:GROUP < content: write atomically (temporary file, then rename).
put_file() {
    local dest=$1 mode=$2 owner=$3 content tmp
    content=$(cat)
    if ((DRY_RUN)); then
        say "would write $dest ($mode $owner):"
        # shellcheck disable=SC2001 # indent every line
        sed 's/^/    | /' <<<"$content"
        return
    fi
    tmp=$(mktemp "$dest.XXXXXX")
    printf '%s\n' "$content" >"$tmp"
    chmod "$mode" "$tmp"
    chown "$owner" "$tmp"
    sync "$tmp"
    mv -f "$tmp" "$dest"
    sync "$(dirname "$dest")"
    say "wrote $dest"
}

os_field() { # os_field KEY: a value from os-release, quotes removed
    local file=$ROOT/etc/os-release
    [[ -r $file ]] || file=$ROOT/usr/lib/os-release
    [[ -r $file ]] || return 0
    sed -n "s/^$1=//p" "$file" | head -n 1 | tr -d '"'"'"
}

pi_model() { # the board's model, empty when this is not a Raspberry Pi
    local model=""
    for f in "$ROOT/proc/device-tree/model" "$ROOT/sys/firmware/devicetree/base/model"; do
        if [[ -r $f ]]; then
            model=$(tr -d '\0' <"$f")
            break
        fi
    done
    if [[ $model == *"Raspberry Pi"* ]]; then
        say "$model"
    elif [[ -f $ROOT/etc/rpi-issue ]]; then
        say "Raspberry Pi (from /etc/rpi-issue)"
    fi
}

has_package() { # has_package NAME: installed according to dpkg's database under ROOT
    local status
    status=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f='${db:Status-Status}' "$1" \
        2>/dev/null) || return 1
    [[ $status == installed ]]
}

has_user() { grep -q "^$SERVICE_USER:" "$ROOT/etc/passwd" 2>/dev/null; }
has_group() { grep -q "^$1:" "$ROOT/etc/group" 2>/dev/null; }
in_group() { # in_group GROUP: the service user is a member
    local members
    members=$(sed -n "s/^$1:[^:]*:[^:]*://p" "$ROOT/etc/group" 2>/dev/null)
    [[ ,$members, == *",$SERVICE_USER,"* ]]
}
# Names are looked up in the passwd and group files under ROOT (the image's own).
user_id() { awk -F: -v u="$1" '$1 == u { print $3 }' "$ROOT/etc/passwd" 2>/dev/null; }
group_id() { awk -F: -v g="$1" '$1 == g { print $3 }' "$ROOT/etc/group" 2>/dev/null; }

# mode_owner PATH: "MODE UID GID" of a file or directory
mode_owner() { stat -c '%a %u %g' "$1"; }

unit_enabled() { # unit_enabled UNIT TARGET
    [[ -L $ROOT$UNIT_DIR/$2.wants/$1 || -e $ROOT$UNIT_DIR/$2.wants/$1 ]]
}

# pem_kid FILE: the anchor's kid (first 8 bytes of SHA-256 over the SPKI DER, ML1 section 1);
# fails when FILE is not one PEM public key.
pem_kid() {
    python3 - "$1" <<'PY'
import base64, binascii, hashlib, sys
text = open(sys.argv[1], "rb").read().decode("ascii", "replace")
begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
if text.count(begin) != 1 or end not in text:
    sys.exit(1)
body = text.split(begin, 1)[1].split(end, 1)[0]
try:
    der = base64.b64decode("".join(body.split()), validate=True)
except binascii.Error:
    sys.exit(1)
# An EC P-256 SubjectPublicKeyInfo: SEQUENCE, then id-ecPublicKey and prime256v1.
if not der.startswith(b"\x30") or b"\x2a\x86\x48\xce\x3d\x02\x01" not in der[:32]:
    sys.exit(1)
print(hashlib.sha256(der).digest()[:8].hex())
PY
}

valid_url() { # http(s), and nothing that would need escaping in the TOML string
    [[ $1 == http://?* || $1 == https://?* ]] || return 1
    [[ $1 != *[[:space:][:cntrl:]\"\'\\]* ]]
}

# ---- the system --------------------------------------------------------------------------
OS_ID=$(os_field ID)
OS_VERSION=$(os_field VERSION_ID)
OS_CODENAME=$(os_field VERSION_CODENAME)
OS_NAME=$(os_field PRETTY_NAME)
MODEL=$(pi_model)
ON_PI=0
[[ -n $MODEL ]] && ON_PI=1

debian_release() { # 0 when os-release names Debian/Raspbian 12 (bookworm) or later
    [[ $OS_ID == debian || $OS_ID == raspbian ]] || return 1
    if [[ $OS_VERSION =~ ^[0-9]+$ ]]; then
        ((OS_VERSION >= MIN_DEBIAN))
    else # testing and unstable have no VERSION_ID
        [[ $OS_CODENAME =~ ^(bookworm|trixie|forky|duke|sid)$ ]]
    fi
}

describe_system() {
    local what=${OS_NAME:-unknown system}
    [[ -n $OS_NAME ]] && what="$what (ID=${OS_ID:-?}, VERSION_ID=${OS_VERSION:-?}, VERSION_CODENAME=${OS_CODENAME:-?})"
    say "$what on ${MODEL:-a machine that is not a Raspberry Pi}"
}

SUPPORTED=0
debian_release && ((ON_PI)) && SUPPORTED=1
if ((!SUPPORTED)); then
    if ((FORCE)) && debian_release; then
        say "note: not Raspberry Pi OS on a Pi; installing anyway (--force): $(describe_system)"
    elif ((FORCE)); then
        die 3 "--force needs Debian 12 (bookworm) or later at least; this is $(describe_system)"
    else
        {
            say "install.sh: this installer is for Raspberry Pi OS (Bookworm or later) on a Raspberry Pi."
            say "This is $(describe_system)."
            say "Nothing was changed. To try it on plain Debian 12 or later anyway, add --force."
        } >&2
        exit 3
    fi
fi
if ((ON_PI)); then
    PACKAGES+=("${PI_PACKAGES[@]}")
    CAMERA_SOURCE=picamera2
else
    CAMERA_SOURCE=opencv
fi
if [[ -z $SCREEN ]]; then # keep what is installed; a new kit gets the kiosk
    SCREEN=kiosk
    if unit_enabled "$CONSOLE_UNIT" multi-user.target &&
        ! unit_enabled "$KIOSK_UNIT" multi-user.target; then
        SCREEN=console
    fi
fi
if [[ $SCREEN == kiosk ]]; then
    APP_UNIT=$KIOSK_UNIT
    OTHER_UNIT=$CONSOLE_UNIT
    PACKAGES+=("${KIOSK_PACKAGES[@]}")
    UNITS+=("$KIOSK_UNIT")
else
    APP_UNIT=$CONSOLE_UNIT
    OTHER_UNIT=$KIOSK_UNIT
fi
ENABLE=("$APP_UNIT" "${ENABLE[@]:1}") # the app in the chosen mode, then the timers

# ---- --check -----------------------------------------------------------------------------
MISSING=0
ok() { printf '  ok       %s\n' "$*"; }
missing() {
    printf '  missing  %s\n' "$*"
    MISSING=$((MISSING + 1))
}
warn() { printf '  warning  %s\n' "$*"; }

check_path() { # check_path PATH MODE OWNER-USER OWNER-GROUP WHAT
    local path=$1 mode=$2 user=$3 group=$4 what=$5 want_uid want_gid have
    if [[ ! -e $ROOT$path ]]; then
        missing "$what $path"
        return
    fi
    want_uid=$(user_id "$user")
    want_gid=$(group_id "$group")
    have=$(mode_owner "$ROOT$path")
    if [[ $have == "$mode ${want_uid:-?} ${want_gid:-?}" ]]; then
        ok "$what $path ($mode $user:$group)"
    else
        missing "$what $path with mode $mode owned by $user:$group (now: mode, uid, gid = $have)"
    fi
}

run_check() {
    say "mleg-verifier on ${ROOT:-/}: $(describe_system)"
    if ((SUPPORTED)); then
        ok "Raspberry Pi OS ${OS_VERSION:-$OS_CODENAME} on $MODEL"
    else
        warn "not Raspberry Pi OS on a Pi (--force): no Pi camera packages expected"
    fi
    if command -v dpkg-query >/dev/null; then
        for pkg in "${PACKAGES[@]}"; do
            if has_package "$pkg"; then ok "package $pkg"; else missing "package $pkg"; fi
        done
    else
        warn "cannot check packages: dpkg-query not found"
    fi
    if has_user; then
        ok "user $SERVICE_USER"
        for group in "${GROUPS_WANTED[@]}"; do
            has_group "$group" || continue
            if in_group "$group"; then ok "$SERVICE_USER in group $group"; else
                missing "$SERVICE_USER in group $group"
            fi
        done
    else
        missing "system user $SERVICE_USER"
    fi
    if [[ -x $ROOT$VENV/bin/verifier ]]; then
        ok "venv $VENV -> $(readlink "$ROOT$VENV" || echo '?') with the verifier command"
        if [[ -z $ROOT ]] && ! "$VENV/bin/python" -c 'import verifier.commands.cli' 2>/dev/null; then
            missing "a working install in $VENV (import verifier fails): re-run sudo deploy/install.sh"
        fi
    else
        missing "venv $VENV with the verifier command (re-run sudo deploy/install.sh)"
    fi
    check_path "$ETC" 750 root "$SERVICE_USER" "config directory"
    check_path "$CONFIG" 640 root "$SERVICE_USER" "config"
    if [[ -r $ROOT$CONFIG ]] && ! python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' \
        "$ROOT$CONFIG" 2>/dev/null; then
        missing "a config that is valid TOML ($CONFIG)"
    fi
    check_path "$ANCHOR" 644 root root "trust anchor"
    if [[ -r $ROOT$ANCHOR ]] && ! pem_kid "$ROOT$ANCHOR" >/dev/null; then
        missing "a trust anchor that is one PEM P-256 public key ($ANCHOR)"
    fi
    check_path "$STATE" 750 "$SERVICE_USER" "$SERVICE_USER" "cache directory"
    for unit in "${UNITS[@]}"; do
        if [[ ! -f $ROOT$UNIT_DIR/$unit ]]; then
            missing "unit $UNIT_DIR/$unit"
        elif ! cmp -s "$SOURCE/systemd/$unit" "$ROOT$UNIT_DIR/$unit"; then
            missing "unit $UNIT_DIR/$unit as in this version (it differs: re-run to update)"
        else
            ok "unit $unit"
        fi
    done
    if [[ $SCREEN == kiosk ]]; then
        check_path "$FOOT_INI" 640 root "$SERVICE_USER" "kiosk terminal settings"
    fi
    if unit_enabled "$APP_UNIT" multi-user.target; then ok "app ($SCREEN) enabled at boot"; else
        missing "app enabled at boot (multi-user.target.wants/$APP_UNIT)"
    fi
    if unit_enabled mleg-verifier-sync.timer timers.target; then ok "sync timer enabled"; else
        missing "sync timer enabled (timers.target.wants/mleg-verifier-sync.timer)"
    fi
    if unit_enabled mleg-verifier-metrics.timer timers.target; then ok "metrics timer enabled"; else
        missing "metrics timer enabled (timers.target.wants/mleg-verifier-metrics.timer)"
    fi
    if unit_enabled getty@tty1.service getty.target; then
        missing "tty1 free for the app (getty@tty1.service is enabled)"
    else
        ok "tty1 free for the app"
    fi
    if desktop_boot; then
        missing "boot to the console (the default target is graphical: the app would not show)"
    fi
    # Field advice: the clock and the camera. Warnings only, they do not fail the check.
    if [[ -e $ROOT/etc/systemd/system/sysinit.target.wants/systemd-timesyncd.service ]] ||
        has_package chrony || has_package ntpsec || has_package ntp; then
        ok "network time synchronisation"
    else
        warn "no network time synchronisation (systemd-timesyncd, chrony or ntp): see README"
    fi
    if ! compgen -G "$ROOT/dev/video*" >/dev/null && ! compgen -G "$ROOT/dev/media*" >/dev/null; then
        warn "no camera device (/dev/video*, /dev/media*): camera not connected or not detected"
    fi
    if [[ -r $ROOT$STATE ]] && [[ ! -f $ROOT$STATE/trustlist.cbor ]]; then
        warn "no trust list cached yet: sudo systemctl start mleg-verifier-sync.service"
    fi
    if [[ -n $ROOT ]]; then
        say "(the self-test of the running kit is skipped: --root $ROOT is only an image)"
    else
        self_test
    fi
    if ((MISSING)); then
        say "$MISSING missing: run sudo deploy/install.sh to install them."
        return 1
    fi
    say "Nothing missing."
}

# The installed kit tests itself: the verifier's own checks inside its venv, as the service
# user (config, anchor, lists verified, camera backend and a frame, a test code decoded and
# verified), then the units. Every failure is one line saying what to do.
self_test() {
    local line runner=()
    say "self-test of the installed kit:"
    if [[ -x $VENV/bin/verifier ]]; then
        if ((EUID == 0)) && has_user && command -v runuser >/dev/null; then
            runner=(runuser -u "$SERVICE_USER" --)
        fi
        while IFS= read -r line; do
            if [[ $line == "  FAILED   "* ]]; then
                missing "${line#  FAILED   }"
            else
                say "$line"
            fi
        done < <("${runner[@]}" env MLEG_VERIFIER_CONFIG="$CONFIG" "$VENV/bin/verifier" selfcheck 2>&1 ||
            true)
    else
        missing "the kit's self-test (no $VENV/bin/verifier): re-run sudo deploy/install.sh"
    fi
    if ! command -v systemctl >/dev/null || [[ ! -d /run/systemd/system ]]; then
        warn "systemd is not running here: unit states not checked"
        return
    fi
    if systemctl is-active --quiet "$APP_UNIT"; then ok "app running ($APP_UNIT)"; else
        missing "app running: sudo systemctl restart $APP_UNIT; journalctl -u mleg-verifier -n 30"
    fi
    for timer in "${TIMERS[@]}"; do
        if systemctl is-active --quiet "$timer"; then ok "$timer running"; else
            missing "$timer running: sudo systemctl start $timer"
        fi
    done
}

desktop_boot() { # the system boots a desktop instead of the console
    local default
    [[ -e $ROOT$UNIT_DIR/display-manager.service ]] || return 1
    default=$(readlink "$ROOT$UNIT_DIR/default.target" 2>/dev/null || true)
    [[ ${default##*/} != multi-user.target ]]
}

if ((CHECK)); then
    run_check && exit 0
    exit 1
fi

# ---- --rollback --------------------------------------------------------------------------
# switch_link LINK TARGET: point LINK at TARGET with a rename, so it is never missing.
switch_link() {
    run ln -sfn "$2" "$1.new"
    run mv -T "$1.new" "$1"
}

if ((ROLLBACK)); then
    if ((!DRY_RUN)) && ((EUID != 0)); then
        die 2 "run as root (sudo), or use --dry-run"
    fi
    back=$(readlink "$ROOT$PREVIOUS" 2>/dev/null || true)
    back=${back#"$PREFIX/"}
    now_in_use=$(readlink "$ROOT$VENV" 2>/dev/null || true)
    now_in_use=${now_in_use#"$PREFIX/"}
    [[ -n $back && -x $ROOT$PREFIX/$back/bin/verifier ]] ||
        die 2 "no previous version to go back to ($PREVIOUS is missing or broken)"
    step "Rollback: ${now_in_use:-nothing} -> $back"
    switch_link "$VENV" "$back"
    [[ -n $now_in_use ]] && switch_link "$PREVIOUS" "$now_in_use"
    run systemctl restart "$APP_UNIT"
    ((DRY_RUN)) && say "dry run: nothing was changed"
    exit 0
fi

# ---- install -----------------------------------------------------------------------------
if ((!DRY_RUN)) && ((EUID != 0)); then
    die 2 "run as root (sudo), or use --check or --dry-run"
fi
INTERACTIVE=0
[[ -t 0 && -t 1 ]] && INTERACTIVE=1

# Everything asked or given is checked before anything changes.
if [[ -n $ANCHOR_FROM ]]; then
    [[ -r $ANCHOR_FROM ]] || die 2 "trust anchor $ANCHOR_FROM cannot be read"
elif [[ ! -f $ROOT$ANCHOR ]]; then
    if ((INTERACTIVE)); then
        read -r -p "Trust anchor file (PEM public key from the ministry): " ANCHOR_FROM
        [[ -r $ANCHOR_FROM ]] || die 2 "trust anchor $ANCHOR_FROM cannot be read"
    else
        die 2 "no trust anchor installed: pass --anchor FILE"
    fi
fi
NEW_KID=""
if [[ -n $ANCHOR_FROM ]]; then
    NEW_KID=$(pem_kid "$ANCHOR_FROM") ||
        die 2 "$ANCHOR_FROM is not a PEM P-256 public key (-----BEGIN PUBLIC KEY-----)"
fi
if [[ ! -f $ROOT$CONFIG ]]; then
    if ((!LIST_URL_GIVEN)) && ((INTERACTIVE)); then
        read -r -p "List URL (where trustlist.cbor and revocations.cbor are published): " LIST_URL
        LIST_URL_GIVEN=1
    fi
    ((LIST_URL_GIVEN)) || die 2 "no config yet: pass --list-url URL"
    valid_url "$LIST_URL" ||
        die 2 "list URL must start with http:// or https:// and hold no spaces or quotes: $LIST_URL"
fi

step "System: $(describe_system)"

step "Packages"
missing_packages=()
for pkg in "${PACKAGES[@]}"; do has_package "$pkg" || missing_packages+=("$pkg"); done
if ((${#missing_packages[@]})); then
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        "${missing_packages[@]}"
else
    say "all installed: ${PACKAGES[*]}"
fi

step "User $SERVICE_USER"
if has_user; then
    say "exists"
else
    run useradd --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin --comment "mleg-verifier inspector app" "$SERVICE_USER"
fi
for group in "${GROUPS_WANTED[@]}"; do
    if has_group "$group" && ! in_group "$group"; then
        run usermod --append --groups "$group" "$SERVICE_USER"
    fi
done

step "Directories"
run install -d -m 0755 -o root -g root "$PREFIX"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$ETC"
run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE"
# node_exporter's textfile directory: the metrics timer writes mleg-verifier.prom there.
[[ -d $ROOT$TEXTFILE_DIR ]] || run install -d -m 0755 -o root -g root "$TEXTFILE_DIR"

step "Python environment $VENVS/$NEW_ID"
TARGET=$VENVS/$NEW_ID
pip_args=(--disable-pip-version-check)
if ((BUNDLE)); then
    # Everything from the bundle's wheelhouse, nothing from the network.
    pip_args+=(--no-index --find-links "$SOURCE/wheels" -c "$CONSTRAINTS" "mleg-verifier==$NEW_VERSION")
    say "from the release bundle $SOURCE (no network)"
else
    pip_args+=(-c "$CONSTRAINTS" "$SOURCE")
    say "from the source tree $SOURCE (pip fetches the pinned dependencies)"
fi
if [[ -f $ROOT$TARGET/.installed ]]; then
    say "$NEW_ID is installed already"
else
    run install -d -m 0755 -o root -g root "$VENVS"
    [[ -e $ROOT$TARGET ]] && run rm -rf "$TARGET" # an install interrupted before it finished
    # System site packages: picamera2, libcamera, numpy and gpiozero come from apt; the
    # constraints keep Debian's numpy 1.x (picamera2 is built against it).
    run python3 -m venv --system-site-packages "$TARGET"
    run "$TARGET/bin/pip" install "${pip_args[@]}"
    run touch "$TARGET/.installed"
fi
# Links are relative to $PREFIX ("venvs/ID"), so they hold inside an image (--root) too.
TARGET_REL=${TARGET#"$PREFIX/"}
in_use=$(readlink "$ROOT$VENV" 2>/dev/null || true)
in_use=${in_use#"$PREFIX/"}
[[ -z $in_use && -x $ROOT$LEGACY_VENV/bin/verifier ]] && in_use=${LEGACY_VENV#"$PREFIX/"}
if [[ $in_use == "$TARGET_REL" ]]; then
    say "in use already ($VENV -> $TARGET_REL)"
else
    switch_link "$VENV" "$TARGET_REL"
    [[ -n $in_use ]] && switch_link "$PREVIOUS" "$in_use"
    say "$VENV -> $TARGET_REL${in_use:+ (was $in_use: sudo deploy/install.sh --rollback goes back)}"
fi
# Versions beyond $KEEP_VENVS go, oldest first: the one now in use and the previous one stay
# always, then the newest of the others.
if [[ -d $ROOT$VENVS ]]; then
    keep_prev=$(readlink "$ROOT$PREVIOUS" 2>/dev/null || true)
    [[ $in_use != "$TARGET_REL" && -n $in_use ]] && keep_prev=$in_use
    keep_prev=${keep_prev#"$PREFIX/"}
    n=2
    while IFS= read -r old; do
        old=${old#"$ROOT$PREFIX/"}
        [[ $old == "$TARGET_REL" || $old == "$keep_prev" ]] && continue
        n=$((n + 1))
        ((n > KEEP_VENVS)) && run rm -rf "${PREFIX:?}/$old"
    done < <(find "$ROOT$VENVS" -mindepth 1 -maxdepth 1 -type d -printf '%T@ %p\n' |
        sort -rn | cut -d' ' -f2-)
fi

step "Trust anchor $ANCHOR"
if [[ -n $ANCHOR_FROM ]]; then
    if [[ -f $ROOT$ANCHOR ]] && cmp -s "$ANCHOR_FROM" "$ROOT$ANCHOR"; then
        say "unchanged (kid $NEW_KID)"
    else
        if [[ -f $ROOT$ANCHOR ]]; then
            old_kid=$(pem_kid "$ROOT$ANCHOR" || echo unreadable)
            say "rotating: kid $old_kid -> $NEW_KID; lists signed by the old anchor stop verifying"
            run cp -p "$ANCHOR" "$ANCHOR.$(date +%Y%m%dT%H%M%S).old"
            ANCHOR_CHANGED=1
        fi
        put_file "$ANCHOR" 0644 root:root <"$ANCHOR_FROM"
    fi
else
    say "kept (kid $(pem_kid "$ROOT$ANCHOR" || echo unreadable))"
fi

step "Config $CONFIG"
if [[ -f $ROOT$CONFIG ]]; then
    say "exists; kept as it is (install.sh never overwrites it)"
    if ((LIST_URL_GIVEN)); then
        say "note: --list-url ignored; to change the list URL, edit list_url in $CONFIG"
    fi
else
    put_file "$CONFIG" 0640 "root:$SERVICE_USER" <<EOF
# mleg-verifier on this kit, written by deploy/install.sh on $(date -u +%Y-%m-%d).
# install.sh never overwrites this file; every key is described in deploy/README.md.
anchor = "$ANCHOR"
list_url = "$LIST_URL"
cache_dir = "$STATE"
# "ntp": the clock counts only once NTP has set it since boot (no battery-backed clock);
# "system": a fitted RTC keeps it (install.sh --rtc). See deploy/README.md, "The clock".
clock = "$CLOCK_SOURCE"

[camera]
source = "$CAMERA_SOURCE"
EOF
fi
if ((!DRY_RUN)); then
    # The installed verifier reads it exactly as the services will: unknown keys are errors.
    "$VENV/bin/python" -c 'import sys; from pathlib import Path
from verifier.device.config import load_config
from verifier.core.errors import VerifierError
try:
    load_config(Path(sys.argv[1]))
except VerifierError as exc:
    sys.exit(f"{exc.title}: {exc.message}")' "$CONFIG" || die 2 "fix $CONFIG, then re-run"
    say "valid"
fi

if [[ $SCREEN == kiosk ]]; then
    step "Kiosk terminal $FOOT_INI"
    if cmp -s "$SOURCE/deploy/foot.ini" "$ROOT$FOOT_INI"; then
        say "unchanged"
    else
        put_file "$FOOT_INI" 0640 "root:$SERVICE_USER" <"$SOURCE/deploy/foot.ini"
    fi
fi

step "systemd units"
for unit in "${UNITS[@]}"; do
    if cmp -s "$SOURCE/systemd/$unit" "$ROOT$UNIT_DIR/$unit"; then
        say "$unit unchanged"
    else
        run install -m 0644 -o root -g root "$SOURCE/systemd/$unit" "$UNIT_DIR/$unit"
    fi
done
run systemctl daemon-reload
# tty1 is the app's: no login prompt competing for it at boot (Alt+F2 still gives one).
if unit_enabled getty@tty1.service getty.target; then
    run systemctl disable getty@tty1.service
fi
if desktop_boot; then
    run systemctl set-default multi-user.target
fi
# One screen at a time: the other mode's unit is switched off (the units conflict anyway).
if unit_enabled "$OTHER_UNIT" multi-user.target; then
    run systemctl disable "$OTHER_UNIT"
fi
run systemctl enable "${ENABLE[@]}"
# The timers run from now on, not only after the next boot.
run systemctl start "${TIMERS[@]}"

step "Start"
console=$(tty 2>/dev/null || true)
if [[ $console == /dev/tty1 ]]; then
    say "you are on tty1, which the app takes over: reboot (or start it from ssh) to see it"
    run systemctl start --no-block mleg-verifier-sync.service
else
    run systemctl start --no-block mleg-verifier-sync.service
    if ((${ANCHOR_CHANGED:-0})); then
        say "new anchor: the app restarts; it verifies again once the sync has fetched lists"
    fi
    # Picks up the new code and anchor; on a first install, starts it.
    run systemctl restart "$APP_UNIT"
fi

step "Done"
if ((DRY_RUN)); then
    say "dry run: nothing was changed"
else
    say "Check with: deploy/install.sh --check; logs: journalctl -u 'mleg-verifier*'"
fi
