# shellcheck shell=bash
# What the tests/builders scripts share: logging, giving up with exit 3 when a
# source cannot be had, and downloading a Debian package from a suite the
# system's apt does not know, through a private apt configuration (the
# system's sources are never changed).

readonly EXIT_UNAVAILABLE=3

log() { printf '%s: %s\n' "${BUILDER:-builders}" "$*" >&2; }
die() { log "error: $*"; exit 1; }
unavailable() { log "cannot be had here: $*"; exit "$EXIT_UNAVAILABLE"; }

# apt_private DIR SUITE...: prints apt options for a private configuration
# under DIR that knows Debian's SUITEs (main), after an `apt-get update` of it.
apt_private() {
    local dir=$1 suite
    shift
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    : >"$dir/sources.list"
    for suite in "$@"; do
        echo "deb http://deb.debian.org/debian $suite main" >>"$dir/sources.list"
        echo "deb-src http://deb.debian.org/debian $suite main" >>"$dir/sources.list"
    done
    local opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache")
    apt-get "${opts[@]}" update >&2 || unavailable "apt-get update of $* failed (no network?)"
    printf '%s\n' "${opts[@]}"
}
