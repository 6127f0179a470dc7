# Sourced by the scripts in scripts/: `usage_if_asked "$@"` prints the calling script's
# header comment (its usage) and exits when the first argument is -h or --help.
usage_if_asked() {
    case ${1:-} in
        -h | --help)
            sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
            exit 0
            ;;
    esac
}
