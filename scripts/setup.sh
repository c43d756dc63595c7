#!/usr/bin/env bash
# Installs and starts everything sitepipe's tests and example pipeline need on a
# Debian 12 machine (run as root): the Debian packages, a Docker engine, a local
# registry on 127.0.0.1:5000, and stand-in base images pushed to that registry.
# Idempotent: what is already in place is left alone, so a second run is quick.
#
#   npm run setup                    # base images: the two the example config uses
#   npm run setup -- IMAGE...        # or name them (also: SITEPIPE_BASE_IMAGES="A B")
#
# See DESIGN.md, "Real components, and how they start on these machines".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
log_dir=/var/log/sitepipe
registry_addr=127.0.0.1:5000
registry_config="$here/registry.yml"
registry_storage=/var/lib/sitepipe/registry
default_images=(
  "$registry_addr/library/nginx:stable"
  "$registry_addr/library/debian:bookworm-slim"
)
packages=(hugo python3-pygments docker.io docker-registry skopeo umoci debootstrap nginx openssl
  openssh-server openssh-client rsync caddy pebble chromium
  git curl ca-certificates procps)

started=$SECONDS
say() { printf '[setup %3ds] %s\n' "$((SECONDS - started))" "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
# shellcheck source=daemon.sh
source "$here/daemon.sh"

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts dockerd)"
mkdir -p "$log_dir" "$registry_storage"

# --- 1. Debian packages -------------------------------------------------------
installed() { [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == "ii " ]]; }

missing=()
for p in "${packages[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  say "installing: ${missing[*]}"
  # Keep package scripts from starting services (Debian's docker.service would
  # start dockerd with the default bridge; docker-registry's would start a
  # registry with htpasswd auth on :5000). We start both ourselves below.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "packages: all present"
fi

# --- 2. Docker engine ---------------------------------------------------------
docker_ready() { docker info >/dev/null 2>&1; }

if docker_ready; then
  say "dockerd: already running"
elif pgrep -x dockerd >/dev/null; then
  say "dockerd: process exists but does not answer yet; waiting"
  daemon_pid=$(pgrep -x -o dockerd)
  wait_ready dockerd 60 "$log_dir/dockerd.log" docker_ready
  say "dockerd: up"
else
  clear_stale_pidfile /var/run/docker.pid dockerd
  clear_stale_pidfile /var/run/docker/containerd/containerd.pid containerd
  say "dockerd: starting (log $log_dir/dockerd.log)"
  # No bridge, no iptables: containers get a network only with --network host.
  start_daemon "$log_dir/dockerd.log" dockerd --storage-driver=overlay2 --bridge=none \
    --iptables=false --ip-forward=false --ip-masq=false
  wait_ready dockerd 60 "$log_dir/dockerd.log" docker_ready
  say "dockerd: up"
fi

# --- 3. Registry on 127.0.0.1:5000 --------------------------------------------
registry_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$registry_addr/v2/" || true; }
registry_up() { [[ $(registry_status) == 200 ]]; }

status=$(registry_status)
if [[ $status == 401 ]]; then
  # Debian's packaged registry (/etc/docker/registry/config.yml: :5000, htpasswd).
  say "registry: a registry with auth answers on :5000 (Debian's service?); stopping it"
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now docker-registry.service || true
  fi
  mapfile -t pids < <(pgrep -f '^docker-registry serve /etc/docker/registry' || true)
  if ((${#pids[@]})); then kill "${pids[@]}"; fi
  for _ in $(seq 20); do [[ $(registry_status) == 000 ]] && break; sleep 0.5; done
  status=$(registry_status)
  [[ $status == 000 ]] || die "something else still answers on :5000 (HTTP $status); stop it and rerun"
fi
case $status in
  200) say "registry: already running on $registry_addr" ;;
  000)
    say "registry: starting (log $log_dir/registry.log)"
    start_daemon "$log_dir/registry.log" docker-registry serve "$registry_config"
    wait_ready registry 30 "$log_dir/registry.log" registry_up
    say "registry: up"
    ;;
  *) die "http://$registry_addr/v2/ answers HTTP $status; expected 200 (ours) or nothing" ;;
esac

# --- 4. Stand-in base images --------------------------------------------------
if (($#)); then
  images=("$@")
elif [[ -n ${SITEPIPE_BASE_IMAGES:-} ]]; then
  read -r -a images <<<"$SITEPIPE_BASE_IMAGES"
else
  images=("${default_images[@]}")
fi
bash "$here/standin-images.sh" "${images[@]}"
bash "$here/standin-builders.sh"

# --- Summary ------------------------------------------------------------------
echo
echo "sitepipe setup done in $((SECONDS - started)) s"
echo "  dockerd:  $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}') (log $log_dir/dockerd.log)"
echo "  registry: http://$registry_addr (no auth; storage $registry_storage; log $log_dir/registry.log)"
echo "  tools:    hugo $(hugo version | awk '{print $2}'), pygmentize $(pygmentize -V | awk '{print $3}' | tr -d ,) ($(command -v pygmentize)),"
echo "            skopeo $(skopeo --version | awk '{print $3}'), umoci $(umoci --version | awk '{print $3}')"
for image in "${images[@]}"; do echo "  image:    $image"; done
