#!/usr/bin/env bash
# Install kustomize (the Kubernetes manifest builder the tests check deploy/ with) from the Go
# module proxy into a cache outside the repo, and print its path.
#
# Usage: deploy/kustomize.sh install
#
#   install  build sigs.k8s.io/kustomize/kustomize/v5 at CONTACTMON_KUSTOMIZE_VERSION with the
#            machine's Go (about 30 s once; the binary is kept) and print the binary's path
#
# Environment:
#   CONTACTMON_CACHE              cache root (default $HOME/.cache/contactmon); the binary goes to
#                                 $CONTACTMON_CACHE/kustomize-<version>/kustomize
#   CONTACTMON_KUSTOMIZE_VERSION  the kustomize version (default v5.8.0)
#
# Exit codes: 0 success, 1 failure (no Go, the build failed), 2 usage error.
set -euo pipefail

readonly SCRIPT_NAME=kustomize.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

readonly VERSION=${CONTACTMON_KUSTOMIZE_VERSION:-v5.8.0}
readonly BIN_DIR=${CONTACTMON_CACHE:-$HOME/.cache/contactmon}/kustomize-$VERSION

install_kustomize() {
    if [[ ! -x $BIN_DIR/kustomize ]]; then
        command -v go >/dev/null || die "Go is needed to build kustomize: install golang-go"
        mkdir -p "$BIN_DIR"
        say "building kustomize $VERSION from the Go module proxy into $BIN_DIR" >&2
        GOBIN=$BIN_DIR GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$VERSION" >&2 \
            || die "go install of kustomize $VERSION failed (see above)"
    fi
    printf '%s\n' "$BIN_DIR/kustomize"
}

case ${1:-} in
    install) install_kustomize ;;
    *) usage ;;
esac
