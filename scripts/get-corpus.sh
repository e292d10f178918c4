#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Fetches the demo corpus: Jane Austen's six novels from Debian's r-cran-janeaustenr package.
# Usage: scripts/get-corpus.sh [DATA_DIR]   (default: <repo>/data/corpus)
# Result: DATA_DIR/janeaustenr/Rdata.rdb (R's lazy-load data file holding the novels). Turning it
# into text is done by the project's C++ (gqa::readAustenRdb), so this script only fetches.
# Idempotent: does nothing if the file is already there. No root needed (apt-get download runs
# as any user), but the apt package lists must be present (apt-get update, once, as root).
set -euo pipefail

PACKAGE=r-cran-janeaustenr
RDB_IN_PACKAGE=usr/lib/R/site-library/janeaustenr/data/Rdata.rdb

say() { printf '[corpus] %s\n' "$*"; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${1:-$repo/data/corpus}
target=$data_dir/janeaustenr/Rdata.rdb

if [ -s "$target" ]; then
  say "already present: $target"
  exit 0
fi

for tool in apt-get dpkg; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    say "error: '$tool' not found; this script needs a Debian-based system."
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/gqa-corpus.XXXXXX")
trap 'rm -rf "$work"' EXIT

say "downloading $PACKAGE with apt-get download"
if ! (cd "$work" && apt-get download -q "$PACKAGE" >"$work/apt.log" 2>&1); then
  sed 's/^/[corpus]   /' "$work/apt.log"
  say "error: could not download $PACKAGE."
  say "fix: refresh the package lists as root ('sudo apt-get update'), check that a Debian"
  say "     mirror is reachable and that 'apt-cache policy $PACKAGE' shows a candidate, then rerun."
  exit 1
fi

debs=("$work"/"$PACKAGE"_*.deb)
if [ ! -f "${debs[0]}" ]; then
  say "error: apt-get download reported success but no $PACKAGE .deb is in $work"
  exit 1
fi
say "extracting $(basename "${debs[0]}")"
dpkg -x "${debs[0]}" "$work/root"

if [ ! -s "$work/root/$RDB_IN_PACKAGE" ]; then
  say "error: $RDB_IN_PACKAGE is missing from the package; its layout has changed."
  exit 1
fi

if ! mkdir -p "$(dirname "$target")"; then
  say "error: cannot create $(dirname "$target")"
  exit 1
fi
cp "$work/root/$RDB_IN_PACKAGE" "$target.tmp"
mv -f "$target.tmp" "$target"
say "wrote $target ($(wc -c <"$target") bytes)"
