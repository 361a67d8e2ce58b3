#!/bin/sh
# Build (or confirm the cache of) the interop client guest under /var/tmp/pixgw-interop, so that a
# CI job can do it once before the tests: tests/interop/qemu/build.py, which hashes its inputs.
set -e
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m tests.interop.qemu.build
