#!/usr/bin/env bash
# `cmake --install` puts the binary, its bash and zsh completions and the docs under the
# prefix (GNUInstallDirs), and the installed binary runs from there (its catalog is
# compiled in). Usage: bash tests/install/install_test.sh BUILD_DIR
set -euo pipefail
BUILD="$1"
PREFIX="$(mktemp -d)"
trap 'rm -rf "$PREFIX"' EXIT
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
for f in bin/codefleet share/bash-completion/completions/codefleet \
  share/zsh/site-functions/_codefleet share/doc/codefleet/README.md \
  share/doc/codefleet/SPEC.md; do
  [ -e "$PREFIX/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
cd "$PREFIX"
"$PREFIX/bin/codefleet" catalog show Standard_NC40ads_H100_v5 >/dev/null
# The installed completions are the binary's own.
diff <("$PREFIX/bin/codefleet" completion bash) share/bash-completion/completions/codefleet
diff <("$PREFIX/bin/codefleet" completion zsh) share/zsh/site-functions/_codefleet
echo "ok: binary, completions and docs installed under $PREFIX"
