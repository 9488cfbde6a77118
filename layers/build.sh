#!/usr/bin/env bash
# Builds the Lambda layer and the function folders into .build/, without Docker: runtime dependencies are
# installed from manylinux wheels for the Lambda platform (python3.12 on arm64), never built here.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-uv}
ARCH=${LAMBDA_ARCH:-aarch64}
PYTHON_VERSION=3.12
BUILD=.build

rm -rf "$BUILD"
mkdir -p "$BUILD/layer/python" "$BUILD/functions"

# The runtime dependencies pinned in uv.lock (the project's own code is copied below, not installed).
$UV export --frozen --no-dev --no-emit-project --no-hashes --format requirements-txt > "$BUILD/requirements.txt"
$UV pip install \
  --quiet \
  --target "$BUILD/layer/python" \
  --python-platform "$ARCH-manylinux_2_28" \
  --python-version "$PYTHON_VERSION" \
  --only-binary :all: \
  --no-compile \
  -r "$BUILD/requirements.txt"

# symbolic ships its Rust library with debug info (74 MB); without it, 6 MB. GNU strip on x86 cannot read an
# aarch64 ELF, llvm-strip can; without it the layer is larger but still within Lambda's 250 MB.
if command -v llvm-strip >/dev/null; then
  find "$BUILD/layer/python/symbolic" -name "*.so" -exec llvm-strip --strip-debug {} +
else
  echo "llvm-strip not found: symbolic's library stays unstripped" >&2
fi

# The domain package every function imports.
cp -r shared/errata "$BUILD/layer/python/errata"

# One folder per function: its handler and any files beside it.
for function in functions/*/; do
  name=$(basename "$function")
  [ -f "$function/handler.py" ] || continue
  mkdir -p "$BUILD/functions/$name"
  cp -r "$function". "$BUILD/functions/$name/"
done

find "$BUILD" -name __pycache__ -type d -prune -exec rm -rf {} +
# Tests and caches inside packages only cost cold-start time.
find "$BUILD/layer/python" -type d \( -name tests -o -name test \) -path "*/numpy/*" -prune -exec rm -rf {} +
echo "layer: $(du -sh "$BUILD/layer" | cut -f1), functions: $(ls "$BUILD/functions" | tr '\n' ' ')"
