#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# End-to-end check of the Debian package: builds it with CPack from the build folder, checks its
# control fields, unpacks it with `dpkg -x` into a scratch root and runs what was installed there:
# the CLI (--version, inspect and a few generated tokens on the installed demo model, which needs
# the installed SentencePiece plug-in), a whole conversion of the demo (calibrate, align, a few
# training updates, report) from a scratch folder with nothing but the installed model and text,
# the studio under Xvfb (a screenshot of the demo model, one of the About dialog, and one after
# analysing and training on the installed text), and the validators of the desktop entry and AppStream metadata; then
# lintian when it is installed (errors fail, warnings are listed). dpkg -x installs no
# dependencies, so the unpacked programs run against the libraries of this machine; they must find
# their own files through RUNPATH $ORIGIN/../lib and paths relative to the executable, so the
# environment variables that would redirect them are cleared.
#
# Usage: GQA_BUILD_DIR=build [GQA_CPACK=cpack] package.sh OUTPUT_DIR
set -uo pipefail
# (grep -q in a pipe could exit before the writer finishes; with pipefail its SIGPIPE would fail a
# passing check, so piped checks read all input with grep >/dev/null.)

fail() {
    echo "package.sh: FAIL: $*" >&2
    exit 1
}
step() { echo "package.sh: $*"; }

[[ $# -eq 1 ]] || fail "usage: GQA_BUILD_DIR=build package.sh OUTPUT_DIR"
out=$1
build=${GQA_BUILD_DIR:?set GQA_BUILD_DIR to the CMake build folder}
cpack=${GQA_CPACK:-cpack}
app_id=io.github.gqastudio.GqaStudio
for tool in dpkg-deb xvfb-run desktop-file-validate appstreamcli readelf; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (bash scripts/setup.sh installs it)"
done
[[ -f $build/CPackConfig.cmake ]] || fail "$build/CPackConfig.cmake is missing: configure first"
build=$(cd "$build" && pwd)
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

rm -rf "$out"
mkdir -p "$out" || fail "cannot create $out"
out=$(cd "$out" && pwd)
root=$out/root
unset LD_LIBRARY_PATH GQA_SPM_PLUGIN GQA_DATA_DIR GQA_STUDIO_DEFAULT_MODEL
export XDG_CONFIG_HOME=$out/config  # the studio's settings, if it wrote any

# --- build and inspect the package -------------------------------------------------------------
step "building the package (cpack -G DEB)"
(cd "$build" && "$cpack" -G DEB -B "$out/cpack") >"$out/cpack.log" 2>&1 ||
    fail "cpack failed: $(tail -n 20 "$out/cpack.log")"
debs=("$out"/cpack/gqa-studio_*.deb)
deb=${debs[0]}
[[ -f $deb ]] || fail "cpack wrote no gqa-studio_*.deb in $out/cpack"
step "built $(basename "$deb") ($(($(stat -c %s "$deb") / 1024)) KiB)"

depends=$(dpkg-deb -f "$deb" Depends)
for package in libqt6widgets6 qt6-qpa-plugins libqcustomplot2.1-qt6 libtorch1.13 libhdf5-103-1 \
    libsentencepiece0 libopenblas0-pthread zlib1g libc6; do
    [[ ", $depends," == *", $package"[\ ,]* ]] || fail "Depends lacks $package: $depends"
done
[[ $(dpkg-deb -f "$deb" Section) == science ]] || fail "Section is not science"
dpkg-deb -f "$deb" Description | grep "grouped-query attention" >/dev/null || fail "no description"

dpkg -x "$deb" "$root" || fail "dpkg -x $deb failed"
usr=$root/usr
for file in bin/gqa-cli bin/gqa-studio lib/gqa-studio/libgqa_spm.so \
    share/gqa-studio/models/demo/{config.json,model.safetensors,tokenizer.model,README.md,evaluation.json} \
    share/gqa-studio/text/{emma,persuasion,pride_and_prejudice,sense_and_sensibility,mansfield_park,northanger_abbey}.txt \
    share/applications/$app_id.desktop share/metainfo/$app_id.metainfo.xml \
    share/icons/hicolor/{16x16,24x24,32x32,48x48,64x64,128x128,256x256}/apps/$app_id.png \
    share/icons/hicolor/scalable/apps/$app_id.svg \
    share/man/man1/{gqa-cli,gqa-studio}.1.gz \
    share/doc/gqa-studio/{copyright,changelog.Debian.gz}; do
    [[ -s $usr/$file ]] || fail "the package lacks /usr/$file"
done
zcat "$usr/share/man/man1/gqa-cli.1.gz" | grep '^\.SS inspect$' >/dev/null ||
    fail "the gqa-cli manual page lacks the inspect command"
for exe in gqa-cli gqa-studio; do
    readelf -d "$usr/bin/$exe" | grep 'RUNPATH.*\[\$ORIGIN/\.\./lib\]' >/dev/null ||
        fail "$exe has no RUNPATH \$ORIGIN/../lib: $(readelf -d "$usr/bin/$exe" | grep -E 'R(UN)?PATH')"
    # A sanitizer build (the asan preset) is never shipped: AddressSanitizer stores the path of
    # every instrumented object for its reports, by design. The rest of this script still runs.
    if readelf -d "$usr/bin/$exe" | grep -q 'NEEDED.*libasan'; then
        step "$exe is a sanitizer build: the check for build and source paths is for releases"
        continue
    fi
    ! grep -q -F "$build" "$usr/bin/$exe" || fail "$exe contains the build path $build"
    ! grep -q -F "$source_dir" "$usr/bin/$exe" || fail "$exe contains the source path $source_dir"
done

# --- run what was installed -----------------------------------------------------------------------
demo=$usr/share/gqa-studio/models/demo
step "running the installed gqa-cli"
"$usr/bin/gqa-cli" --version >"$out/version.txt" 2>&1 || fail "gqa-cli --version: $(cat "$out/version.txt")"
grep -q "^gqa-cli [0-9]" "$out/version.txt" || fail "unexpected --version: $(cat "$out/version.txt")"
"$usr/bin/gqa-cli" inspect "$demo" >"$out/inspect.txt" 2>&1 || fail "inspect: $(cat "$out/inspect.txt")"
grep -q "KV heads 8 (MHA)" "$out/inspect.txt" || fail "inspect of the demo model: $(cat "$out/inspect.txt")"
# Text needs the tokenizer, so this loads the plug-in from the unpacked lib/gqa-studio.
"$usr/bin/gqa-cli" generate "$demo" --text "It is a truth" --max-new-tokens 4 --quiet \
    >"$out/generate.txt" 2>&1 || fail "generate: $(cat "$out/generate.txt")"

# A user's conversion of the demo: a scratch working folder, the installed model and text only (no
# path into the build or source tree exists in the config or the programs).
step "converting the demo with the installed gqa-cli (calibrate, align, train, report)"
user=$out/user
mkdir -p "$user"
text=$usr/share/gqa-studio/text
cat >"$user/demo-gqa2.json" <<JSON
{"model": "$demo", "kv_heads": 2, "output": "demo-gqa2",
 "calibration": {"files": ["$text/emma.txt"], "sequences": 8, "length": 64},
 "training": {"files": ["$text/emma.txt"], "validation": "$text/persuasion.txt",
              "steps": 3, "batch": 2, "seq_len": 64, "warmup": 1, "eval_every": 3}}
JSON
(cd "$user" && "$usr/bin/gqa-cli" convert demo-gqa2.json --quiet) >"$out/convert.txt" 2>&1 ||
    fail "convert: $(tail -n 20 "$out/convert.txt")"
for file in run.h5 aligned-mha/config.json model/config.json model/model.safetensors convert-config.json; do
    [[ -s $user/demo-gqa2/$file ]] || fail "convert wrote no demo-gqa2/$file: $(tail -n 5 "$out/convert.txt")"
done
grep -q '"num_key_value_heads": 2' "$user/demo-gqa2/model/config.json" ||
    fail "the converted model is not GQA-2: $(cat "$user/demo-gqa2/model/config.json")"
(cd "$user" && "$usr/bin/gqa-cli" report demo-gqa2 --max-tokens 512 --quiet) >"$out/report.txt" 2>&1 ||
    fail "report: $(tail -n 20 "$out/report.txt")"
[[ -s $user/demo-gqa2/report.html && -s $user/demo-gqa2/report.pdf ]] || fail "report wrote no report.html and report.pdf: $(tail -n 5 "$out/report.txt")"

step "running the installed gqa-studio under Xvfb"
export XDG_DATA_HOME=$out/data  # the studio's run files (--analyse writes one)
for shot in demo about trained; do
    args=(--demo --screenshot "$out/studio-$shot.png")
    [[ $shot == about ]] && args+=(--about)
    # The Similarity tab's calibration text and the Training tab's text are the installed ones.
    [[ $shot == trained ]] && args+=(--analyse --train-steps 2)
    timeout 240 xvfb-run -a "$usr/bin/gqa-studio" "${args[@]}" >"$out/studio-$shot.log" 2>&1
    rc=$?
    [[ $rc -ne 124 ]] || fail "the studio ($shot) did not quit within 240 s"
    [[ $rc -eq 0 ]] || fail "the studio ($shot) exited with $rc: $(tail -n 5 "$out/studio-$shot.log")"
    png=$out/studio-$shot.png
    [[ $(head -c 8 "$png" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
        fail "no PNG screenshot at $png"
    width=$((16#$(od -An -tx1 -j16 -N4 "$png" | tr -d ' \n')))
    ((width >= 400)) || fail "screenshot $png is only $width pixels wide"
done
[[ ! -e $XDG_CONFIG_HOME ]] || fail "--screenshot wrote settings: $(find "$XDG_CONFIG_HOME")"

# --- validators ------------------------------------------------------------------------------------
step "validating the desktop entry and the AppStream metadata"
desktop-file-validate "$usr/share/applications/$app_id.desktop" >"$out/desktop-file-validate.txt" 2>&1 ||
    fail "desktop-file-validate: $(cat "$out/desktop-file-validate.txt")"
appstreamcli validate --no-net "$usr/share/metainfo/$app_id.metainfo.xml" \
    >"$out/appstreamcli.txt" 2>&1 || fail "appstreamcli validate: $(cat "$out/appstreamcli.txt")"
appstreamcli validate-tree --no-net "$root" >"$out/appstreamcli-tree.txt" 2>&1 ||
    fail "appstreamcli validate-tree: $(cat "$out/appstreamcli-tree.txt")"

if command -v lintian >/dev/null; then
    step "running lintian"
    lintian --fail-on error --no-tag-display-limit "$deb" >"$out/lintian.txt" 2>&1 ||
        fail "lintian reports errors: $(grep '^E:' "$out/lintian.txt")"
    warnings=$(grep -c '^W:' "$out/lintian.txt")
    step "lintian: no errors, $warnings warnings$( ((warnings)) && printf ':\n%s' "$(grep '^W:' "$out/lintian.txt")")"
else
    step "lintian is not installed: skipped"
fi

step "OK: $(basename "$deb") installs and runs from $root"
