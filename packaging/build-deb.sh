#!/usr/bin/env bash
# Builds the stratus .deb: the server binary (release profile), the slim agent
# (agent profile), then `cargo deb --no-build`, which packages both. (cargo deb's
# own build knows one profile per package and would rebuild the agent in release.)
# Installs cargo-deb from crates.io first if it is missing.
#
#   packaging/build-deb.sh            -> target/debian/stratus_<version>-1_<arch>.deb
#   packaging/build-deb.sh --fast     extra arguments go to cargo deb
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Pinned: the asset paths in crates/stratus/Cargo.toml follow this version's rules.
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version >/dev/null 2>&1; then
  echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION (cargo install --locked)"
  cargo install --locked cargo-deb --version "$CARGO_DEB_VERSION"
fi
cargo build --release -p stratus
cargo build --profile agent -p stratus-agent
cargo deb -p stratus --no-build "$@"
