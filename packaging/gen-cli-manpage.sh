#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Writes the gqa-cli manual page: the hand-written TEMPLATE (gqa-cli.1.in after CMake filled in
# the version and date) with its INSERT-COMMANDS comment line replaced by one subsection per
# subcommand, made from `gqa-cli --help` (the list) and `gqa-cli <command> --help` (usage,
# description, options).
# Usage: gen-cli-manpage.sh GQA_CLI TEMPLATE OUTPUT
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: gen-cli-manpage.sh GQA_CLI TEMPLATE OUTPUT" >&2; exit 2; }
cli=$1 template=$2 output=$3

commands=$("$cli" --help | awk '/^commands:/ {on = 1; next} on && /^$/ {exit} on {print $1}')
[[ -n $commands ]] || { echo "gen-cli-manpage.sh: '$cli --help' lists no commands" >&2; exit 1; }

# troff: backslashes, minus signs, and lines that would start with a control character.
escape() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^[.']/\\\\\\&&/"; }

section=$(mktemp)
trap 'rm -f "$section" "$output.tmp"' EXIT
for command in $commands; do
    help=$("$cli" "$command" --help)
    printf '.SS %s\n' "$command" >>"$section"
    # "usage: ..." line, then description paragraphs, then "options:" with one option per line:
    # two spaces, the option and its argument, two or more spaces, the description.
    printf '%s\n' "$help" | escape | awk '
        /^usage: / { sub(/^usage: /, ""); print ".nf"; print "\\fB" $0 "\\fR"; print ".fi"; next }
        /^options:$/ { options = 1; next }
        /^$/ { paragraph = 1; next }
        !options && paragraph { print ".PP"; paragraph = 0 }
        options && match($0, /^  [^ ].*[^ ]   */) {
            head = substr($0, 3, RLENGTH - 2); sub(/ +$/, "", head)
            text = substr($0, RLENGTH + 1)
            split(head, words, " ")
            printf ".TP\n\\fB%s\\fR", words[1]
            for (i = 2; i in words; ++i) printf " \\fI%s\\fR", words[i]
            printf "\n%s\n", text; next
        }
        options { sub(/^ +/, ""); print; next }
        { print }
    ' >>"$section"
done

grep -q '^\.\\" INSERT-COMMANDS' "$template" || { echo "gen-cli-manpage.sh: no INSERT-COMMANDS line in $template" >&2; exit 1; }
sed -e "/^\.\\\\\" INSERT-COMMANDS/{r $section" -e 'd}' "$template" >"$output.tmp"
mv "$output.tmp" "$output"
