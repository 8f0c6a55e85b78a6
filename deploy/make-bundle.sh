#!/usr/bin/env bash
# Build a release bundle: the project's wheel, a wheelhouse of every dependency for the kit
# (aarch64, CPython 3.11: Raspberry Pi OS / Debian 12 bookworm), pinned by
# deploy/constraints-pi.txt, the installer and the units. deploy/install.sh installs from it
# with no network (pip --no-index --find-links).
#
#   deploy/make-bundle.sh                      # -> dist/mleg-verifier-VERSION-COMMIT-aarch64.tar.gz
#   deploy/make-bundle.sh --out DIR --platform host    # for this machine (tests, a PC kit)
#
# Needs network (PyPI) here, on the build machine; the kit needs none. Exit 0 done, 2 usage.
set -euo pipefail

SOURCE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$SOURCE/dist
PLATFORM=aarch64
PYTHON=${PYTHON:-python3}

usage() {
    cat <<EOF
Usage: make-bundle.sh [--out DIR] [--platform aarch64|host]

  --out DIR        where the bundle (a directory and its .tar.gz) goes (default: dist/)
  --platform P     aarch64: the Pi's wheels (default); host: this machine's (for tests)
EOF
}

while (($#)); do
    case $1 in
    --out) OUT=${2:?--out needs a directory}; shift 2 ;;
    --platform) PLATFORM=${2:?--platform needs aarch64 or host}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
[[ $PLATFORM == aarch64 || $PLATFORM == host ]] || { usage >&2; exit 2; }

VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$SOURCE/pyproject.toml" | head -n 1)
COMMIT=$(git -C "$SOURCE" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ $COMMIT != unknown ]] && [[ -n $(git -C "$SOURCE" status --porcelain --untracked-files=no) ]]; then
    COMMIT=$COMMIT-dirty
fi
NAME=mleg-verifier-$VERSION-$COMMIT-$PLATFORM
STAGE=$OUT/$NAME
rm -rf "$STAGE"
mkdir -p "$STAGE/wheels" "$STAGE/deploy" "$STAGE/systemd"

echo "== wheel of mleg-verifier $VERSION ($COMMIT)"
"$PYTHON" -m pip wheel --disable-pip-version-check -q --no-deps -w "$STAGE/wheels" "$SOURCE"

echo "== wheelhouse ($PLATFORM)"
target=()
if [[ $PLATFORM == aarch64 ]]; then
    # Bookworm's glibc is 2.36: every manylinux tag up to it, and CPython 3.11's ABI.
    target=(--only-binary=:all: --python-version 3.11 --implementation cp --abi cp311
        --platform manylinux2014_aarch64)
    for minor in $(seq 17 36); do target+=(--platform "manylinux_2_${minor}_aarch64"); done
fi
"$PYTHON" -m pip download --disable-pip-version-check -q -d "$STAGE/wheels" \
    -c "$SOURCE/deploy/constraints-pi.txt" "${target[@]}" "$STAGE"/wheels/mleg_verifier-*.whl

cp "$SOURCE/deploy/install.sh" "$SOURCE/deploy/constraints-pi.txt" "$SOURCE/deploy/README.md" \
    "$SOURCE/deploy/foot.ini" \
    "$STAGE/deploy/"
cp "$SOURCE"/systemd/* "$STAGE/systemd/"
cat >"$STAGE/BUNDLE" <<EOF
VERSION=$VERSION
COMMIT=$COMMIT
PLATFORM=$PLATFORM
BUILT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
(cd "$STAGE/wheels" && sha256sum -- *.whl >../SHA256SUMS)
tar -C "$OUT" -czf "$OUT/$NAME.tar.gz" "$NAME"
echo "== $OUT/$NAME.tar.gz ($(du -h "$OUT/$NAME.tar.gz" | cut -f1), $(find "$STAGE/wheels" -name '*.whl' | wc -l) wheels)"
echo "On the kit: tar xzf $NAME.tar.gz && sudo $NAME/deploy/install.sh --anchor ... --list-url ..."
