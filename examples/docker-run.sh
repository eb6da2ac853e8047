#!/bin/sh
# docker-run.sh - run a hardened container that can read one provider of /run/comfysecrets.
#
#   sh examples/docker-run.sh                          # docker, provider runpod, uid 1000
#   RUNTIME=podman sh examples/docker-run.sh           # rootful podman: the same flags
#   PROVIDER=openai USERSPEC=1001:1001 sh examples/docker-run.sh cat /run/secrets/openai/api_key
#
# Rootless podman runs the container in a user namespace: comfysecretsfs sees the
# host-side uid (from /etc/subuid), not 1000. Add --userns=keep-id to run as your own
# uid, and give that uid (or one of its groups) read access with [provider.NAME].
#
# The mount needs allow_other (both systemd units have it), and the provider's files must
# be readable by USERSPEC's uid or gid ([provider.NAME] owner/group/mode in the config).
# Each read is audited with that uid. Restart the container after restarting the daemon.
set -eu
RUNTIME=${RUNTIME:-docker}
IMAGE=${IMAGE:-debian:12-slim}
PROVIDER=${PROVIDER:-runpod}
USERSPEC=${USERSPEC:-1000:1000}
[ "$#" -gt 0 ] || set -- sh -c "ls -l /run/secrets/$PROVIDER"

exec "$RUNTIME" run --rm \
	--user "$USERSPEC" \
	--read-only \
	--tmpfs /tmp:rw,noexec,nosuid,nodev,size=64m \
	--cap-drop ALL \
	--security-opt no-new-privileges \
	--network none \
	--mount "type=bind,source=/run/comfysecrets/$PROVIDER,target=/run/secrets/$PROVIDER,readonly" \
	"$IMAGE" "$@"
