#!/usr/bin/env bash
# The second evaluation vault: npm's own user documentation as Debian's `npm` package installs it
# (/usr/share/doc/**.md, 97 markdown files: the commands, configuring-npm and using-npm guides, and the READMEs of
# npm's libraries). Nobody on this project wrote it; eval/questions/npm.jsonl asks about it and is never tuned on.
# Licence: the docs are Expat (MIT), the rest of npm Artistic-2.0 (Debian's copyright file, copied beside them).
# Fetched data, never committed: it lands in a git-ignored folder (default .notes-qa/vaults/npm-docs).
set -euo pipefail
VERSION="9.2.0~ds1-1"  # Debian 12 (bookworm); the question labels were written against this version
DEST="${1:-.notes-qa/vaults/npm-docs}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "npm=$VERSION" >/dev/null 2>&1) || {
    echo "error: could not download npm=$VERSION with apt-get download (run apt-get update first?)" >&2
    exit 2
}
dpkg-deb -x "$work"/npm_*.deb "$work/root"
rm -rf "$DEST"
mkdir -p "$DEST"
(cd "$work/root/usr/share/doc" && find . -type f \( -name '*.md' -o -name '*.md.gz' \) -print) | sort | while read -r f; do
    mkdir -p "$DEST/$(dirname "$f")"
    case "$f" in
        *.gz) gzip -dc "$work/root/usr/share/doc/$f" >"$DEST/${f%.gz}" ;;
        *) cp "$work/root/usr/share/doc/$f" "$DEST/$f" ;;
    esac
done
cp "$work/root/usr/share/doc/npm/copyright" "$DEST/COPYRIGHT"
cat >"$DEST/SOURCE" <<NOTE
npm $VERSION user documentation, from Debian's npm package (/usr/share/doc/**/*.md, gzipped ones unpacked).
Licence: docs/* Expat (MIT); see COPYRIGHT (Debian's copyright file for the package).
NOTE
echo "wrote $(find "$DEST" -name '*.md' | wc -l) notes to $DEST"
