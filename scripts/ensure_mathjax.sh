#!/usr/bin/env bash
# Fetch MathJax 3 (npm package mathjax@3) once into a cache folder and print its path.
#
# The book serves MathJax locally (no CDN): papseg_utils.book.render copies
# tex-chtml.js and output/chtml/fonts from this folder into the built HTML.
# Only the npm registry is contacted, and only when the cache is empty.
#
#   PAPSEG_MATHJAX_DIR=/path   use this folder (must hold tex-chtml.js); nothing is fetched
#   PAPSEG_CACHE=/path         cache root (default: ${XDG_CACHE_HOME:-~/.cache}/papseg)
set -euo pipefail
version="3.2.2"
if [ -n "${PAPSEG_MATHJAX_DIR:-}" ]; then
    if [ ! -f "$PAPSEG_MATHJAX_DIR/tex-chtml.js" ]; then
        echo "PAPSEG_MATHJAX_DIR=$PAPSEG_MATHJAX_DIR has no tex-chtml.js; unset it or point it at an unpacked mathjax@3 package" >&2
        exit 1
    fi
    echo "$PAPSEG_MATHJAX_DIR"
    exit 0
fi
cache="${PAPSEG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/papseg}"
dest="$cache/mathjax-$version"
if [ ! -f "$dest/.complete" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm is needed once to fetch mathjax@$version (apt-get install -y npm), or set PAPSEG_MATHJAX_DIR" >&2
        exit 1
    fi
    mkdir -p "$cache"
    tmp="$(mktemp -d "$cache/mathjax.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "mathjax@$version" >/dev/null)
    tar -xzf "$tmp"/mathjax-*.tgz -C "$tmp"
    src="$tmp/package/es5"
    mkdir -p "$tmp/out/output/chtml" "$tmp/out/input/tex"
    cp "$src/tex-chtml.js" "$tmp/out/"
    cp -r "$src/output/chtml/fonts" "$tmp/out/output/chtml/"
    cp -r "$src/input/tex/extensions" "$tmp/out/input/tex/"   # autoloaded TeX packages
    cp "$tmp/package/LICENSE" "$tmp/out/"
    rm -rf "$dest"
    mv "$tmp/out" "$dest"
    touch "$dest/.complete"
fi
echo "$dest"
