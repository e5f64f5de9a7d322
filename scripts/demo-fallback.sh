#!/usr/bin/env bash
echo "sockkit: the CLI is not built yet; nothing to demo" >&2
exit 1
