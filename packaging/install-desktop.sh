#!/usr/bin/env bash
# Install (or remove) vmmemviz's desktop integration for the current user:
# the launcher entry, the icon at every size in the hicolor theme, and the MIME
# types of scenario files (*.vmmemviz.toml) and session files (*.vmmemviz), under $XDG_DATA_HOME
# (default ~/.local/share). Nothing outside that folder is touched.
#
#   packaging/install-desktop.sh                      # Exec=vmmemviz (found on PATH)
#   packaging/install-desktop.sh --exec dist/vmmemviz/vmmemviz   # launch a bundle
#   packaging/install-desktop.sh --uninstall          # remove exactly what was installed
#   dist/vmmemviz/install-desktop.sh                  # the copy in a bundle: Exec= that bundle
#
# What was written is listed in $XDG_DATA_HOME/vmmemviz/install-manifest.txt:
# files, the folders the install had to create, and the cache files its refresh
# created. Install and uninstall both refresh the desktop, MIME and icon caches
# (update-desktop-database, update-mime-database, gtk-update-icon-cache, each
# when installed). --uninstall removes the listed files, refreshes, then removes
# the listed caches and the listed folders that are left empty (a mime/ folder it
# created goes with the database files generated in it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec_path=""
if [ -d "$HERE/_internal/vmmemviz/resources" ]; then
    # The copy inside a bundle (dist/vmmemviz/install-desktop.sh): launch that bundle.
    RES="$HERE/_internal/vmmemviz/resources"
    exec_path="$HERE/vmmemviz"
else
    RES="$HERE/../resources"
fi
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
case "$DATA" in /*) ;; *) DATA="$PWD/$DATA" ;; esac
MANIFEST_DIR="$DATA/vmmemviz"
MANIFEST="$MANIFEST_DIR/install-manifest.txt"
SIZES="16 24 32 48 64 128 256 512"

usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }

mode=install
while [ $# -gt 0 ]; do
    case "$1" in
        --uninstall) mode=uninstall; shift ;;
        --exec) exec_path="$2"; shift 2 ;;
        --exec=*) exec_path="${1#*=}"; shift ;;
        --resources) RES="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-desktop.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done

refresh_caches() {
    if command -v update-desktop-database >/dev/null && [ -d "$DATA/applications" ]; then
        update-desktop-database -q "$DATA/applications" || true
    fi
    if command -v update-mime-database >/dev/null && [ -d "$DATA/mime/packages" ]; then
        update-mime-database "$DATA/mime" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null && [ -d "$DATA/icons/hicolor" ]; then
        # -t: a user's hicolor folder has no index.theme of its own.
        gtk-update-icon-cache -q -f -t "$DATA/icons/hicolor" || true
    fi
}

# mkdir -p that records, in the manifest, each folder it had to create.
make_dir() {
    local dir="$1" missing=()
    while [ ! -d "$dir" ]; do missing=("$dir" "${missing[@]}"); dir="$(dirname "$dir")"; done
    for dir in ${missing[@]+"${missing[@]}"}; do
        mkdir "$dir"
        echo "dir $dir" >>"$MANIFEST.new"
    done
}

put() {  # put SOURCE DEST: copy one file, mode 644, and record it
    make_dir "$(dirname "$2")"
    install -m 644 "$1" "$2"
    echo "file $2" >>"$MANIFEST.new"
}

install_all() {
    if [ -f "$MANIFEST" ]; then
        echo "install-desktop.sh: already installed; replacing" >&2
        uninstall_all quiet
    fi
    for f in "$RES/vmmemviz.desktop" "$RES/vmmemviz-mime.xml" "$RES/icons/vmmemviz.svg"; do
        [ -f "$f" ] || { echo "install-desktop.sh: missing $f" >&2; exit 1; }
    done
    # The manifest's own folder is created first and recorded last.
    local created_manifest_dir=""
    [ -d "$MANIFEST_DIR" ] || created_manifest_dir=1
    mkdir -p "$MANIFEST_DIR"
    : >"$MANIFEST.new"

    local desktop
    desktop="$(mktemp)"
    if [ -n "$exec_path" ]; then
        case "$exec_path" in /*) ;; *) exec_path="$PWD/$exec_path" ;; esac
        [ -x "$exec_path" ] || { echo "install-desktop.sh: not executable: $exec_path" >&2; rm -f "$desktop"; exit 1; }
        # Quote the path for the Exec key (spaces and friends), per the Desktop Entry spec.
        local quoted
        quoted="\"$(printf '%s' "$exec_path" | sed 's/[\\"`$]/\\\\&/g')\""
        sed -e "s|^Exec=vmmemviz |Exec=$quoted |" -e "s|^TryExec=vmmemviz\$|TryExec=$exec_path|" \
            "$RES/vmmemviz.desktop" >"$desktop"
    else
        cp "$RES/vmmemviz.desktop" "$desktop"
    fi
    put "$desktop" "$DATA/applications/vmmemviz.desktop"
    rm -f "$desktop"

    for s in $SIZES; do
        png="$RES/icons/vmmemviz-$s.png"
        [ -f "$png" ] && put "$png" "$DATA/icons/hicolor/${s}x${s}/apps/vmmemviz.png"
    done
    put "$RES/icons/vmmemviz.svg" "$DATA/icons/hicolor/scalable/apps/vmmemviz.svg"
    put "$RES/vmmemviz-mime.xml" "$DATA/mime/packages/vmmemviz-mime.xml"

    [ -n "$created_manifest_dir" ] && echo "dir $MANIFEST_DIR" >>"$MANIFEST.new"
    # Index files that the refresh below creates (rather than updates) are ours too.
    for c in "$DATA/applications/mimeinfo.cache" "$DATA/icons/hicolor/icon-theme.cache"; do
        [ -e "$c" ] || echo "cache $c" >>"$MANIFEST.new"
    done
    echo "file $MANIFEST" >>"$MANIFEST.new"
    mv "$MANIFEST.new" "$MANIFEST"
    refresh_caches
    echo "installed vmmemviz desktop integration into $DATA ($(($(grep -c '^file ' "$MANIFEST") - 1)) files)"
}

# The MIME database files that update-mime-database writes into a mime/ folder
# this script created.
remove_generated_caches() {
    local dir="$1"
    case "$dir" in
        "$DATA/mime")
            # Everything in mime/ but packages/ is generated from packages/.
            if [ ! -d "$dir/packages" ] || [ -z "$(ls -A "$dir/packages")" ]; then
                find "$dir" -mindepth 1 -maxdepth 1 ! -name packages -exec rm -rf {} +
            fi ;;
    esac
}

uninstall_all() {
    local quiet="${1:-}"
    if [ ! -f "$MANIFEST" ]; then
        echo "install-desktop.sh: nothing to uninstall (no $MANIFEST)" >&2
        return 0
    fi
    local n=0 line path
    while IFS= read -r line; do
        case "$line" in
            "file "*) path="${line#file }"; [ "$path" = "$MANIFEST" ] && continue
                      rm -f -- "$path"; n=$((n + 1)) ;;
        esac
    done <"$MANIFEST"
    local dirs caches
    dirs="$(sed -n 's/^dir //p' "$MANIFEST" | sort -r)"  # deepest first
    caches="$(sed -n 's/^cache //p' "$MANIFEST")"
    rm -f -- "$MANIFEST"
    refresh_caches
    # Index files that did not exist before the install: gone again.
    while IFS= read -r path; do
        [ -n "$path" ] && rm -f -- "$path"
    done <<<"$caches"
    # Folders the install created: drop them when only regenerated caches are left.
    while IFS= read -r path; do
        [ -n "$path" ] && [ -d "$path" ] || continue
        remove_generated_caches "$path"
        rmdir -- "$path" 2>/dev/null || true
    done <<<"$dirs"
    [ -n "$quiet" ] || echo "removed vmmemviz desktop integration from $DATA ($n files)"
}

if [ "$mode" = install ]; then install_all; else uninstall_all; fi
