# shellcheck shell=bash
# Helpers shared by the tests/vm scripts: fetching and unpacking Debian
# packages into a cache directory without installing them. Source it after
# setting LPC_LOG_PREFIX (the name printed before each message).

# Exit status of a script when a package cannot be had (no apt lists, no
# network): callers such as the Rust tests turn it into a skip.
readonly LPC_EXIT_UNAVAILABLE=3

lpc_log() { printf '%s: %s\n' "${LPC_LOG_PREFIX:-tests/vm}" "$*" >&2; }

lpc_die() {
    lpc_log "$*"
    exit 1
}

lpc_unavailable() {
    lpc_log "$*"
    exit "$LPC_EXIT_UNAVAILABLE"
}

# Extra options for apt-get and apt-cache: a private configuration (sources,
# lists, cache) for suites the system's apt does not know; empty = the
# system's. Set by lpc_private_apt.
LPC_APT_OPTS=()

# The Debian archive the private apt configurations and the toolchain roots
# (fetch-toolchain.sh) are fetched from.
readonly LPC_DEBIAN_MIRROR=http://deb.debian.org/debian

# Prints the suite a Debian suite name builds on: the base of a backports
# suite (trixie for trixie-backports), else the suite itself.
lpc_base_suite() {
    printf '%s\n' "${1%-backports}"
}

# Points apt at a private configuration under directory $1 for Debian suite
# $2 (trixie: with trixie-security; sid; SUITE-backports: with its base
# suite and the base's security suite, which backports depend on, and the
# backports suite as the default release, so that its packages are the
# candidates over the base's), updating its lists once. The system's apt
# setup is never changed.
lpc_private_apt() {
    local dir=$1 suite=$2 base
    base=$(lpc_base_suite "$suite")
    mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
    {
        printf 'deb %s %s main\n' "$LPC_DEBIAN_MIRROR" "$base"
        [[ $base == sid ]] || printf 'deb %s-security %s-security main\n' "$LPC_DEBIAN_MIRROR" "$base"
        [[ $base == "$suite" ]] || printf 'deb %s %s main\n' "$LPC_DEBIAN_MIRROR" "$suite"
    } >"$dir/sources.list"
    LPC_APT_OPTS=(
        -o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=-
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
        -o Debug::NoLocking=1
    )
    [[ $base == "$suite" ]] || LPC_APT_OPTS+=(-o "APT::Default-Release=$suite")
    if ! compgen -G "$dir/lists/*_Packages*" >/dev/null; then
        lpc_log "apt-get update for $suite (private lists in $dir)"
        apt-get "${LPC_APT_OPTS[@]}" update >&2 ||
            lpc_unavailable "apt-get update for $suite failed (no network?)"
    fi
}

# Prints the .deb file in directory $1 for package $2, if one is there.
lpc_find_deb() {
    local dir=$1 package=$2 deb
    for deb in "$dir/${package}"_*.deb; do
        if [[ -f $deb ]]; then
            printf '%s\n' "$deb"
            return 0
        fi
    done
    return 1
}

# Downloads package $2 into directory $1 unless a .deb of it is there already.
lpc_download() {
    local dir=$1 package=$2
    if lpc_find_deb "$dir" "$package" >/dev/null; then
        return 0
    fi
    lpc_log "downloading $package"
    if ! (cd "$dir" && apt-get "${LPC_APT_OPTS[@]}" download "$package" >&2); then
        lpc_unavailable "apt-get download $package failed (no network or no such package?)"
    fi
    lpc_find_deb "$dir" "$package" >/dev/null ||
        lpc_unavailable "apt-get download $package left no .deb in $dir"
}

# Unpacks the .deb of package $3 found in directory $1 into directory $2,
# once (a stamp file under $2/.unpacked records it).
lpc_unpack() {
    local debs=$1 root=$2 package=$3 deb stamp
    deb=$(lpc_find_deb "$debs" "$package") || lpc_die "no .deb of $package in $debs"
    stamp="$root/.unpacked/$(basename "$deb")"
    if [[ -e $stamp ]]; then
        return 0
    fi
    lpc_log "unpacking $(basename "$deb")"
    mkdir -p "$root/.unpacked"
    dpkg -x "$deb" "$root"
    : >"$stamp"
}

# Prints the value of KEY ($2) in the env file ($1) written by fetch-kernel.sh.
lpc_env_value() {
    local file=$1 key=$2 value
    value=$(sed -n "s/^$key=//p" "$file")
    [[ -n $value ]] || lpc_die "$file has no $key"
    printf '%s\n' "$value"
}

# Runs command $4... for kernel cache $1, its output into file $3: on the host
# when the compiler the headers name (KCC) is installed here, else chrooted
# into the toolchain root of the kernel's suite (fetch-toolchain.sh builds it
# once), with the cache and directory $2 (the module sources) bind-mounted at
# their own paths, so that the absolute paths of the headers hold in both.
# Returns the command's status, or 3 when the toolchain cannot be had.
lpc_kbuild() {
    local cache=$1 dir=$2 log=$3 kcc root status=0
    shift 3
    kcc=$(lpc_env_value "$cache/env" KCC)
    if command -v "$kcc" >/dev/null; then
        "$@" >"$log" 2>&1
        return
    fi
    root=$("$(dirname "${BASH_SOURCE[0]}")/fetch-toolchain.sh" "$cache") || status=$?
    ((status == 0)) || return "$status"
    lpc_in_root "$root" "$cache" "$dir" -- "$@" >"$log" 2>&1
}

# Runs command ARGS... (after --) chrooted into root $1, in its /, with each directory before the -- bind-mounted at its own path
# and /dev and /proc mounted. The mounts live in a private mount namespace:
# they vanish with the command, whatever happens to it.
lpc_in_root() {
    local root=$1 dirs=()
    shift
    while (($#)) && [[ $1 != -- ]]; do
        dirs+=("$(realpath "$1")")
        shift
    done
    shift
    # The inner script gets the root, the directories, "--" and the command.
    # shellcheck disable=SC2016
    unshare --mount --propagation private -- bash -euc '
        root=$1
        shift
        while [[ $1 != -- ]]; do
            mkdir -p "$root$1"
            mount --bind "$1" "$root$1"
            shift
        done
        shift
        mount --rbind /dev "$root/dev"
        mount -t proc proc "$root/proc"
        exec chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            HOME=/root LC_ALL=C.UTF-8 "$@"
    ' lpc-in-root "$root" "${dirs[@]}" -- "$@"
}
