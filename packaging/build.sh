#!/usr/bin/env bash
# Build the one-folder bundle dist/vmmemviz/ with PyInstaller (Linux; see
# packaging/README.md for Windows and macOS).
#
#   packaging/build.sh                                   # -> dist/vmmemviz/
#   packaging/build.sh --distpath DIR --workpath DIR     # build elsewhere (tests)
#
# Run from anywhere; paths without an explicit --distpath/--workpath are
# relative to the repository root. Installs PyInstaller into the project venv
# (.venv, or $VMMEMVIZ_VENV; or the environment of $VMMEMVIZ_PYTHON) when it is
# missing. Extra arguments go to PyInstaller. VMMEMVIZ_NO_TRIM=1 builds without
# trimming Qt, VMMEMVIZ_NO_STRIP=1 without stripping debug info.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VMMEMVIZ_VENV:-$REPO/.venv}"
PY="${VMMEMVIZ_PYTHON:-$VENV/bin/python}"  # VMMEMVIZ_PYTHON: an interpreter that has vmmemviz

if [ -n "${VMMEMVIZ_PYTHON:-}" ]; then
    "$PY" -c "import vmmemviz" || { echo "build.sh: $PY cannot import vmmemviz" >&2; exit 1; }
elif [ ! -x "$PY" ]; then
    echo "build.sh: no venv at $VENV; creating it and installing vmmemviz" >&2
    python3 -m venv "$VENV"
    "$PY" -m pip install -q --upgrade pip
    "$PY" -m pip install -q -e "$REPO"
fi
if ! "$PY" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: installing PyInstaller into $VENV" >&2
    "$PY" -m pip install -q "pyinstaller>=6"
fi

distpath="$REPO/dist"
workpath="$REPO/build"
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --distpath) distpath="$2"; shift 2 ;;
        --distpath=*) distpath="${1#*=}"; shift ;;
        --workpath) workpath="$2"; shift 2 ;;
        --workpath=*) workpath="${1#*=}"; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) extra+=("$1"); shift ;;
    esac
done

# A fresh work folder for this spec. (Not PyInstaller's --clean: that also
# empties the user-wide PyInstaller cache, which a concurrent build may be using.)
rm -rf "$workpath/vmmemviz"
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$distpath" --workpath "$workpath" \
    ${extra[@]+"${extra[@]}"} "$REPO/packaging/vmmemviz.spec"
end=$(date +%s)

bundle="$distpath/vmmemviz"
size=$(du -sm "$bundle" | cut -f1)
echo "build.sh: $bundle: ${size} MB in $((end - start)) s"
