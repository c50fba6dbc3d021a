# shellcheck shell=bash
# What every tools/*/build.sh shares; they source it (it runs nothing by
# itself). A build script calls
#
#   tool_init NAME VERSION LAYOUT BINARY...
#   tool_begin "$@"
#   ... builds each missing binary into "$tmp/<binary>", then tool_install it ...
#   tool_end
#
# The binaries live in ${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/NAME/VERSION:
# LAYOUT "dir" puts them in its bin folder and prints that folder, LAYOUT
# "file" puts the one binary in the version folder and prints its path.
# VERSION names the cache folder and must change whenever the pin changes.
#
# Idempotent: tool_begin returns at once when every binary is present. Each
# binary is built under a temporary name and renamed into place, so an
# interrupted build never leaves a half binary behind. Concurrent callers
# (parallel test packages) serialise on a lock file.

# tool_init NAME VERSION LAYOUT BINARY...: sets cache, bin (the folder the
# binaries go to), out (what the script prints) and BINARIES.
tool_init() {
	TOOL_NAME=$1
	TOOL_VERSION=$2
	local layout=$3
	shift 3
	BINARIES=("$@")
	cache="${XDG_CACHE_HOME:-$HOME/.cache}/conveyor/$TOOL_NAME/$TOOL_VERSION"
	case $layout in
	dir)
		bin="$cache/bin"
		out="$bin"
		;;
	file)
		bin="$cache"
		out="$bin/${BINARIES[0]}"
		;;
	*)
		echo "tool_init: layout $layout: want dir or file" >&2
		exit 2
		;;
	esac
}

# log writes a progress line to stderr.
log() { echo "$TOOL_NAME build: $*" >&2; }

# tool_present reports whether every binary is built.
tool_present() {
	local b
	for b in "${BINARIES[@]}"; do
		[ -x "$bin/$b" ] || return 1
	done
}

# tool_begin ARGS...: answers --version; prints what the script prints and
# exits when every binary is present. Otherwise it takes the build lock
# (exiting in the same way if another builder finished while it waited),
# makes the temporary folder $tmp (removed on exit) and starts the clock.
tool_begin() {
	if [ "${1:-}" = "--version" ]; then
		echo "$TOOL_VERSION"
		exit 0
	fi
	if tool_present; then
		echo "$out"
		exit 0
	fi
	mkdir -p "$bin"
	exec 9>"$cache/.build.lock"
	flock 9
	if tool_present; then # another builder finished while we waited
		echo "$out"
		exit 0
	fi
	tmp="$(mktemp -d "$cache/.tmp.XXXXXX")"
	trap 'rm -rf "$tmp"' EXIT
	start=$SECONDS
}

# tool_install BINARY...: moves each binary built in $tmp into place.
tool_install() {
	local b
	for b in "$@"; do
		mv -f "$tmp/$b" "$bin/$b"
	done
}

# tool_end logs the time the build took and prints what the script prints.
tool_end() {
	log "done in $((SECONDS - start))s: $out"
	echo "$out"
}
