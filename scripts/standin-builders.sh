#!/usr/bin/env bash
# Stand-ins for the Cloud Build builder images that `sitepipe cloudbuild local` runs, for
# machines that reach no public registry. Tagged in the local Docker engine under the names
# the generated cloudbuild.yaml uses (Cloud Build, too, runs a builder the engine already has):
#
#   node:20-bookworm-slim            the Debian stand-in base + this machine's node (and npm)
#   gcr.io/cloud-builders/docker     the Debian stand-in base + this machine's docker.io client
#   gcr.io/$PROJECT/sitepipe:<ver>   Dockerfile.builder on the node stand-in: this checkout's
#                                    dist/ (compiled here) and production node_modules, plus
#                                    Debian's hugo (the hugo step cannot download from GitHub here)
#
#   scripts/standin-builders.sh [PROJECT]    # PROJECT: $PROJECT_ID of local builds (sitepipe-local)
#
# Each image is labelled with a hash of what went into it and rebuilt only when that changes
# (for the sitepipe builder: the sources, lockfile and Dockerfile.builder), so a second run
# takes seconds. SITEPIPE_STANDIN_REBUILD=1 rebuilds all three. Needs the Debian stand-in
# that scripts/standin-images.sh makes (127.0.0.1:5000/library/debian:bookworm-slim).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
project=${1:-sitepipe-local}
debian=127.0.0.1:5000/library/debian:bookworm-slim
node_image=node:20-bookworm-slim
docker_image=gcr.io/cloud-builders/docker
version=$(node -p 'require(process.argv[1]).version' "$repo/package.json")
sitepipe_image=gcr.io/$project/sitepipe:$version
log_dir=/var/log/sitepipe
rebuild=${SITEPIPE_STANDIN_REBUILD:-0}
label=io.sitepipe.standin-hash

log_prefix=standin-builders
# shellcheck source=lib.sh
source "$here/lib.sh"
current_hash() { docker image inspect --format "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }
up_to_date() { [[ $rebuild != 1 && $(current_hash "$1") == "$2" ]]; }

mkdir -p "$log_dir"
# One run at a time (test files running in parallel may each ask for the stand-ins).
lock_dir=/run/lock; [[ -d $lock_dir ]] || lock_dir=/tmp
exec 9>"$lock_dir/sitepipe-standin-builders.lock"
flock 9
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (npm run setup starts it)"
if ! docker image inspect "$debian" >/dev/null 2>&1; then
  docker pull -q "$debian" >/dev/null 2>&1 || bash "$here/standin-images.sh" "$debian"
fi
debian_id=$(docker image inspect --format '{{.Id}}' "$debian")

work=$(mktemp -d /var/tmp/sitepipe-standin-builders.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- node: this machine's node binary (and npm) on the Debian stand-in -------------------
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$node_bin")/../lib/node_modules/npm
hash=$(cat <(echo "node-v1 $debian_id") "$node_bin" | sha256sum | cut -c1-16)
if up_to_date "$node_image" "$hash"; then
  say "$node_image: up to date"
else
  say "$node_image: building from $node_bin ($(node --version)) on $debian"
  ctx="$work/node" && mkdir -p "$ctx"
  cp "$node_bin" "$ctx/node"
  if [[ -d $npm_dir ]]; then cp -a "$npm_dir" "$ctx/npm"; else mkdir "$ctx/npm"; fi
  cat >"$ctx/Dockerfile" <<EOF
FROM $debian
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN if [ -f /usr/local/lib/node_modules/npm/bin/npm-cli.js ]; then \\
      ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
      && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx; \\
    fi \\
 && node --version
LABEL $label=$hash org.opencontainers.image.description="sitepipe stand-in for $node_image"
CMD ["node"]
EOF
  : >"$log_dir/standin-node.log"
  DOCKER_BUILDKIT=0 run "$log_dir/standin-node.log" docker build --network host -t "$node_image" "$ctx"
fi

# --- gcr.io/cloud-builders/docker: the docker.io client on the Debian stand-in ------------
# Debian's docker.io client (setup installs it); another docker on PATH only if that is missing.
docker_bin=/usr/bin/docker
[[ -x $docker_bin ]] || docker_bin=$(readlink -f "$(command -v docker)")
hash=$(cat <(echo "docker-v1 $debian_id") "$docker_bin" | sha256sum | cut -c1-16)
if up_to_date "$docker_image" "$hash"; then
  say "$docker_image: up to date"
else
  say "$docker_image: building from $docker_bin on $debian"
  ctx="$work/docker" && mkdir -p "$ctx"
  cp "$docker_bin" "$ctx/docker"
  cat >"$ctx/Dockerfile" <<EOF
FROM $debian
COPY docker /usr/bin/docker
LABEL $label=$hash org.opencontainers.image.description="sitepipe stand-in for $docker_image"
ENTRYPOINT ["/usr/bin/docker"]
EOF
  : >"$log_dir/standin-docker-builder.log"
  DOCKER_BUILDKIT=0 run "$log_dir/standin-docker-builder.log" docker build --network host -t "$docker_image" "$ctx"
  run "$log_dir/standin-docker-builder.log" docker run --rm --network host \
    -v /var/run/docker.sock:/var/run/docker.sock "$docker_image" version
fi

# --- the sitepipe builder: Dockerfile.builder on the node stand-in ------------------------
node_id=$(docker image inspect --format '{{.Id}}' "$node_image")
hash=$(
  cd "$repo"
  {
    echo "sitepipe-v1 $node_id"
    cat Dockerfile.builder package.json package-lock.json tsconfig.json Dockerfile.template
    find pipeline steps -type f -name '*.ts' | LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)
if up_to_date "$sitepipe_image" "$hash"; then
  say "$sitepipe_image: up to date"
else
  say "$sitepipe_image: building this checkout with Dockerfile.builder on $node_image"
  log="$log_dir/standin-sitepipe-builder.log"
  : >"$log"
  ctx="$work/sitepipe" && mkdir -p "$ctx"
  cp "$repo"/{package.json,package-lock.json,Dockerfile.template,Dockerfile.builder} "$ctx/"
  [[ -x $repo/node_modules/.bin/tsc ]] || die "no node_modules in $repo: run npm ci first"
  (cd "$repo" && run "$log" node_modules/.bin/tsc -p tsconfig.json --outDir "$ctx/dist")
  cp -a "$repo/node_modules" "$ctx/node_modules"
  (cd "$ctx" && run "$log" npm prune --omit=dev --offline --no-audit --no-fund)
  DOCKER_BUILDKIT=0 run "$log" docker build --network host -f "$ctx/Dockerfile.builder" \
    --build-arg NODE_IMAGE="$node_image" --build-arg EXTRA_PACKAGES=hugo \
    --label "$label=$hash" -t "$sitepipe_image" "$ctx"
  run "$log" docker run --rm --network host "$sitepipe_image" steps
fi
say "ready: $node_image, $docker_image, $sitepipe_image"
