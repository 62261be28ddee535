#!/usr/bin/env bash
# Build the image from ./Dockerfile with podman and smoke-test it: start it on SQLite with the
# seed demo feed, wait for the HEALTHCHECK to pass and its alert to be printed (to the console only), check that the
# process is not root, and that it stops within 10 s of SIGTERM.
#
# Works without a registry: the Debian base image is made with debootstrap (docs/operations.md,
# "Building without a registry", says why each setting below is needed on such machines).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-newswatch:smoke}
BASE=docker.io/library/debian:bookworm-slim
WORK=${CONTAINER_WORK:-/tmp/newswatch-container}
NAME=newswatch-smoke-$$
mkdir -p "$WORK"

log() { printf '[container-smoke] %s\n' "$*" >&2; }

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing podman, runc, debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi

nofile=$(ulimit -Hn)
nproc=$(( $(ulimit -Hu) < $(cat /proc/sys/kernel/pid_max) ? $(ulimit -Hu) : $(cat /proc/sys/kernel/pid_max) ))
cat > "$WORK/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
cat > "$WORK/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
CONF
export CONTAINERS_CONF="$WORK/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/storage.conf"

if ! podman image exists "$BASE"; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "building the base image with debootstrap from $mirror"
  rm -rf "$WORK/rootfs" && mkdir -p "$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" "$mirror" >/dev/null
  # Like the registry's bookworm-slim: no package files, lists, docs, man pages or translations
  # (the same dpkg excludes and apt clean-up that image ships), so measured sizes compare.
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' \
    'path-exclude /usr/share/locale/*' 'path-exclude /usr/share/info/*' > "$WORK/rootfs/etc/dpkg/dpkg.cfg.d/docker"
  printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
    'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' > "$WORK/rootfs/etc/apt/apt.conf.d/docker-clean"
  rm -rf "$WORK/rootfs/var/cache/apt/"* "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/usr/share/man/"* "$WORK/rootfs/usr/share/locale/"* "$WORK/rootfs/usr/share/info/"*
  find "$WORK/rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  tar --numeric-owner -C "$WORK/rootfs" -cf "$WORK/base.tar" .
  podman import "$WORK/base.tar" "$BASE" >/dev/null
  rm -rf "$WORK/rootfs" "$WORK/base.tar"
fi

log "building $IMAGE"
ca=()
[ -f /etc/ssl/certs/ca-certificates.crt ] && ca=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
podman build --quiet --format docker --pull=never "${ca[@]}" -t "$IMAGE" . >/dev/null

cleanup() { podman rm -f "$NAME" >/dev/null 2>&1 || true; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log "starting $NAME on port $port"
podman run -d --name "$NAME" -p "127.0.0.1:${port}:8080" -e NEWSWATCH_FETCH_TIMEOUT=5 "$IMAGE" >/dev/null

healthy=""
for _ in $(seq 1 60); do
  if podman healthcheck run "$NAME" >/dev/null 2>&1; then healthy=yes; break; fi
  sleep 1
done
[ -n "$healthy" ] || { podman logs "$NAME" >&2; log "FAIL: health check never passed"; exit 1; }
log "health check passed"

# Read the logs into a variable first: `podman logs | grep -q` fails under pipefail when grep
# exits early and podman gets SIGPIPE.
alert=""
for _ in $(seq 1 30); do
  logs=$(podman logs "$NAME" 2>&1 || true)
  alert=$(grep -m1 "newswatch alert → console:demo" <<<"$logs" || true)
  [ -n "$alert" ] && break
  sleep 1
done
[ -n "$alert" ] || { podman logs "$NAME" >&2; log "FAIL: no alert printed"; exit 1; }
log "alert printed: $alert"

user=$(podman exec "$NAME" id -u)
[ "$user" != "0" ] || { log "FAIL: the process runs as root"; exit 1; }
curl -fsS "http://127.0.0.1:${port}/readyz" >/dev/null || { log "FAIL: /readyz not reachable on the published port"; exit 1; }
log "running as uid $user; /readyz answers on the published port"

start=$(date +%s.%N)
podman stop -t 15 "$NAME" >/dev/null
elapsed=$(python3 -c "print(round($(date +%s.%N) - $start, 1))")
code=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
log "stopped in ${elapsed}s with exit code $code"
python3 -c "import sys; sys.exit(0 if $elapsed < 10 and $code == 0 else 1)" || { log "FAIL: stop took ${elapsed}s or exit code $code"; exit 1; }
log "OK"
