#!/bin/sh
# A short soak for `make check` (SOAK_SECONDS, default 20): see tests/soak, which runs
# 60 s by default; a long run is `BUILD=build sh tests/soak 600`.
exec sh tests/soak "${SOAK_SECONDS:-20}"
