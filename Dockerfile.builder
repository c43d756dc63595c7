# The sitepipe builder: the image every `sitepipe run <step>` step of the generated
# cloudbuild.yaml runs in. `sitepipe builder build [REF]` builds it and `sitepipe builder push
# [REF]` pushes it (docs/cloudbuild.md); by hand:
#
# Build context: this package as `npm pack` ships it (or as npm installed it):
#   package.json  Dockerfile.template  dist/   and, optionally, node_modules/ (production
#   dependencies for linux/amd64). Without node_modules/, npm installs them here, for the
#   image's platform (the npm registry must be reachable); a package-lock.json or
#   npm-shrinkwrap.json in the context pins them, but none is needed (npm pack ships no lockfile).
#       docker build -f Dockerfile.builder -t LOCATION-docker.pkg.dev/PROJECT/sitepipe/sitepipe:0.1.0 DIR
# scripts/standin-builders.sh prepares such a context and builds it on machines without a
# public registry (NODE_IMAGE then names a stand-in made from the machine's own node).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}

# git: the source step reads the commit; python3-pygments: the pinned Pygments (Debian 12 ships
# 2.14.0; other versions are installed into a venv in the cache, hence python3-venv). Hugo is not
# installed: the hugo step downloads the pinned release and checks its SHA-256 (the build
# caches it). EXTRA_PACKAGES adds Debian packages (the offline stand-in adds hugo). Only missing
# packages are installed, so a NODE_IMAGE that has them all needs no package mirror.
ARG EXTRA_PACKAGES=""
RUN missing=$(for p in ca-certificates git python3-pygments python3-venv libstdc++6 ${EXTRA_PACKAGES}; do \
      dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || echo "$p"; done) \
 && if [ -n "$missing" ]; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && git config --system --add safe.directory '*'

WORKDIR /opt/sitepipe
COPY . ./
RUN if [ ! -d node_modules ]; then npm install --omit=dev --no-audit --no-fund --no-update-notifier; fi \
 && chmod 755 dist/pipeline/cli.js \
 && ln -sf /opt/sitepipe/dist/pipeline/cli.js /usr/local/bin/sitepipe \
 && sitepipe --help >/dev/null

ENV CI=true
WORKDIR /workspace
ENTRYPOINT ["sitepipe"]
