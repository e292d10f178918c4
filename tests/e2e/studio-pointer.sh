#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The studio driven as a first user drives it: a real X pointer and keyboard (xdotool) on the
# studio under Xvfb, through open the demo from the start page -> Similarity tab -> Analyse ->
# another G -> edit nothing, "Use These Groups for Training" -> a short run -> Pause -> Resume ->
# the held-out comparison -> Report, then the files the run wrote are checked: the export is a
# GQA model with that G, the run file and the report record the groups as given by the user.
#
# The studio writes where its controls are (GQA_STUDIO_WIDGET_MAP, app/studio/widgetmap.h); this
# script reads that map to aim the pointer and to wait for states, and acts only through X input.
# Screenshots of every step go to OUTPUT_DIR when ImageMagick's `import` is installed.
#
# Usage: GQA_STUDIO=/path/gqa-studio [GQA_E2E_SLOWDOWN=N] studio-pointer.sh OUTPUT_DIR
# GQA_E2E_SLOWDOWN: how many times slower than a release build the studio runs (the asan preset's
# tests set it): the waits grow by that factor and the run shrinks by it, so the pause still lands
# mid-run.
set -u

fail() {
    echo "studio-pointer.sh: FAIL: $*" >&2
    [[ -n "${studio_pid:-}" ]] && kill "$studio_pid" 2>/dev/null
    [[ -n "${xvfb_pid:-}" ]] && kill "$xvfb_pid" 2>/dev/null
    exit 1
}
step() { echo "studio-pointer.sh: $*"; }

[[ $# -eq 1 ]] || fail "usage: GQA_STUDIO=... studio-pointer.sh OUTPUT_DIR"
out=$1
[[ -x "${GQA_STUDIO:-}" ]] || fail "GQA_STUDIO is not set to an executable"
slowdown=${GQA_E2E_SLOWDOWN:-1}
[[ $slowdown =~ ^[1-9][0-9]*$ ]] || fail "GQA_E2E_SLOWDOWN must be a positive integer, not '$slowdown'"
for tool in Xvfb xdotool python3; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (bash scripts/setup.sh installs it)"
done
rm -rf "$out"
mkdir -p "$out" || fail "cannot create $out"
out=$(cd "$out" && pwd)
map=$out/widgets.json
run=$out/run

# A display of its own, and settings and data folders of its own (no user state read or written).
display=
for n in $(seq 90 140); do
    [[ -e /tmp/.X11-unix/X$n || -e /tmp/.X$n-lock ]] && continue
    display=:$n
    break
done
[[ -n $display ]] || fail "no free X display number"
# The smallest screen every view must be usable on (issue: layout at 1024 x 640): controls that do
# not fit are reached by scrolling, as a user would.
Xvfb "$display" -screen 0 1024x640x24 -nolisten tcp >"$out/xvfb.log" 2>&1 &
xvfb_pid=$!
export DISPLAY=$display
for _ in $(seq 50); do xdotool getmouselocation >/dev/null 2>&1 && break; sleep 0.1; done
export XDG_CONFIG_HOME=$out/config XDG_DATA_HOME=$out/data
unset GQA_STUDIO_DEFAULT_MODEL
GQA_STUDIO_WIDGET_MAP=$map "$GQA_STUDIO" >"$out/studio.log" 2>&1 &
studio_pid=$!
trap 'kill $studio_pid $xvfb_pid 2>/dev/null' EXIT

shots=0
shot() {
    command -v import >/dev/null || return 0
    shots=$((shots + 1))
    import -window root "$out/$(printf %02d "$shots")-$1.png" 2>/dev/null
}

# field NAME KEY: a value of a control in the current map ("" when it is not on screen).
field() {
    python3 - "$map" "$1" "$2" <<'PY'
import json, sys
try:
    entry = json.load(open(sys.argv[1])).get(sys.argv[2])
except (OSError, ValueError):
    entry = None
if entry is not None:
    key = sys.argv[3]
    if key == "center":
        print(entry["x"] + entry["w"] // 2, entry["y"] + entry["h"] // 2)
    else:
        value = entry[key]
        print(str(value).lower() if isinstance(value, bool) else value)
PY
}

# wait_for NAME PATTERN SECONDS: until the control is on screen, enabled and its text matches.
wait_for() {
    local deadline=$((SECONDS + $3 * slowdown))
    while ((SECONDS < deadline)); do
        kill -0 "$studio_pid" 2>/dev/null || fail "the studio exited: $(tail -n 5 "$out/studio.log")"
        if [[ $(field "$1" enabled) == true ]] && [[ $(field "$1" text) =~ $2 ]]; then return 0; fi
        sleep 0.3
    done
    shot "timeout-$1"
    fail "waited $(($3 * slowdown)) s for '$1' to match /$2/; it reads: '$(field "$1" text)'"
}

# reveal NAME AREA: scrolls the scroll area AREA with the wheel (pointer on its left margin, off
# any control) until the control NAME is on screen: down first, then up.
reveal() {
    [[ -n $(field "$1" center) ]] && return 0
    local x y w h i
    x=$(field "$2" x) y=$(field "$2" y) h=$(field "$2" h)
    [[ -n $x ]] || fail "neither '$1' nor its scroll area '$2' is on screen"
    xdotool mousemove --sync $((x + 3)) $((y + h / 2))
    for i in $(seq 1 40); do
        ((i <= 15)) && xdotool click 5 || xdotool click 4
        sleep 0.3
        [[ -n $(field "$1" center) ]] && return 0
    done
    fail "scrolling '$2' did not bring '$1' on screen"
}

# click NAME: moves the pointer onto the control and clicks it.
click() {
    wait_for "$1" '' 30
    local center
    center=$(field "$1" center)
    # shellcheck disable=SC2086
    xdotool mousemove --sync $center click 1
    sleep 0.3
}

# type_into NAME TEXT: clicks into a field, selects everything and types.
type_into() {
    reveal "$1" trainingSettingsScroll
    click "$1"
    xdotool key --clearmodifiers ctrl+a
    xdotool type --delay 20 "$2"
    xdotool key Tab
    sleep 0.3
}

step "start page: Open the Demo Model"
wait_for openDemoButton 'Demo' 60
shot start-page
click openDemoButton
wait_for summaryLabel 'tensors' 60
shot model

step "Similarity tab: Analyse"
click 'tab:Similarity'
click analyseButton
wait_for 'button:Analyse' '' 30
shot analysis-dialog
click 'button:Analyse'
wait_for groupingStatus 'groups found|Best groups' 300
shot analysed

step "G = 2 with the slider, then Use These Groups for Training"
wait_for groupCountSlider '' 10
# The slider's stops: G = 8 (MHA), 4, 2, 1. A click gives it the focus (and may move it); the
# arrow keys then walk it to G = 2 (Right: fewer KV heads).
click groupCountSlider
for _ in 1 2 3 4 5 6; do
    g=$(field groupingCaption text | sed -n 's/.*G = \([0-9]*\).*/\1/p')
    [[ -n $g ]] || fail "no G in the caption '$(field groupingCaption text)'"
    ((g == 2)) && break
    if ((g > 2)); then xdotool key Right; else xdotool key Left; fi
    sleep 0.5
done
wait_for groupingCaption 'G = 2<' 10
wait_for groupingStatus 'groups found|Best groups' 120
shot g2
reveal useGroupsButton groupingScroll
click useGroupsButton
wait_for groupsSourceLabel 'from the Similarity tab, G = 2' 10
shot training-tab

# Long enough (about 20 s here) that the pause lands mid-run.
steps=$((400 / slowdown))
step "a run of $steps updates into $run: Start, Pause, Resume"
type_into stepsSpin $steps
type_into batchSpin 2
type_into seqLenSpin 64
type_into outputFolderEdit "$run"
reveal startTrainingButton trainingSettingsScroll
click startTrainingButton
wait_for trainingStatus 'conversion training' 300
wait_for pauseTrainingButton '^Pause$' 30
sleep 1
click pauseTrainingButton
wait_for trainingStatus 'Paused with a checkpoint' 300
shot paused
[[ -f $run/checkpoint/trainer_state.json ]] || fail "pausing wrote no checkpoint in $run"
reveal startTrainingButton trainingSettingsScroll
wait_for startTrainingButton '^Resume$' 10
click startTrainingButton
wait_for trainingStatus 'Held-out perplexity: converted' 600
shot finished

step "Report"
reveal reportButton trainingSettingsScroll
click reportButton
wait_for trainingStatus 'Report written|report is in|its folder is open|Open report.html' 300
shot report

# --- what the run wrote --------------------------------------------------------------------------
step "checking the files of the run"
[[ -s $run/model/config.json ]] || fail "no exported model in $run/model"
grep -q '"num_key_value_heads": 2' "$run/model/config.json" ||
    fail "the export is not GQA-2: $(cat "$run/model/config.json")"
[[ -s $run/run.h5 ]] || fail "no run file"
[[ -s $run/report.html && -s $run/report.pdf ]] || fail "no report.html and report.pdf in $run"
grep -q 'Groups: given by the user' "$run/report.html" ||
    fail "the report does not record the groups as given by the user"
python3 - "$run/checkpoint/trainer_state.json" "$steps" <<'PY' || fail "the checkpoint is not at update $steps"
import json, sys
sys.exit(0 if json.load(open(sys.argv[1]))["step"] == int(sys.argv[2]) else 1)
PY
step "OK: open, analyse, G = 2, use the groups, train, pause, resume, measure, report"
