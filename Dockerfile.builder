# The sitepipe builder: the image every `sitepipe run <step>` step of the generated
# cloudbuild.yaml runs in (gcr.io/$PROJECT_ID/sitepipe:<version> by default).
#
# Build context: a directory holding this package as npm would install it:
#   package.json  package-lock.json  Dockerfile.template  dist/  node_modules/ (production
#   dependencies only: npm ci --omit=dev)
# e.g.  npm ci && npm run build && npm prune --omit=dev
#       docker build -f Dockerfile.builder -t gcr.io/PROJECT/sitepipe:0.1.0 .
#       docker push gcr.io/PROJECT/sitepipe:0.1.0
# scripts/standin-builders.sh prepares such a context and builds it on machines without a
# public registry (NODE_IMAGE then names a stand-in made from the machine's own node).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}

# git: the source step reads the commit; python3-pygments: the pinned Pygments (Debian 12 ships
# 2.14.0; other versions are installed into a venv in the cache, hence python3-venv). Hugo is not
# installed: the hugo step downloads the pinned release and checks its SHA-256 (the build
# caches it). EXTRA_PACKAGES adds Debian packages (the offline stand-in adds hugo).
ARG EXTRA_PACKAGES=""
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git python3-pygments python3-venv libstdc++6 ${EXTRA_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && git config --system --add safe.directory '*'

WORKDIR /opt/sitepipe
COPY package.json package-lock.json Dockerfile.template ./
COPY node_modules ./node_modules
COPY dist ./dist
RUN chmod 755 dist/pipeline/cli.js \
 && ln -s /opt/sitepipe/dist/pipeline/cli.js /usr/local/bin/sitepipe \
 && sitepipe --help >/dev/null

ENV CI=true
WORKDIR /workspace
ENTRYPOINT ["sitepipe"]
