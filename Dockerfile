# Throttlegate gateway image. Docker is not available where this repo is developed:
# test/deploy/container.test.ts checks this file statically; the image itself has not been built there.
#
#   docker build -t throttlegate .
#   docker run -p 8080:8080 -v "$PWD/configs:/etc/throttlegate:ro" throttlegate
#
# Node 20 on Debian slim, pinned to the exact release the project is developed on.

# --- build: dev dependencies (typescript) compile src/ into dist/ ---
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before src/ is here; the build runs below, once.
RUN npm ci --ignore-scripts
COPY tsconfig.base.json tsconfig.build.json ./
COPY src ./src
# The dashboard's bundle (esbuild, a dev dependency of this stage) is built with the rest.
COPY scripts/build-dashboard.mjs ./scripts/
RUN npm run build

# --- runtime: production dependencies only, no compiler, no sources ---
FROM node:20.20.2-bookworm-slim
ENV NODE_ENV=production \
    THROTTLEGATE_CONFIG=/etc/throttlegate/config.yaml
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs tsc, which --omit=dev leaves out; no dependency has an install script.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
# The shipped adaptive weights are found next to dist/ (src/adaptive/weights.ts walks up to models/).
COPY models ./models
COPY configs ./configs
# The default config; mount a directory over /etc/throttlegate (not a single file) so saves and
# ConfigMap updates reach the gateway's directory watch and reload it live.
COPY configs/config.yaml /etc/throttlegate/config.yaml

# The image's own unprivileged user (uid 1000); the gateway writes nothing to disk.
USER node
EXPOSE 8080
# SIGTERM starts the drain (server.shutdown_grace_ms); node itself is PID 1 (exec form), so it receives it.
STOPSIGNAL SIGTERM
# node's own fetch: the slim image has no curl, and none is added for this. PORT is what configs/config.yaml reads.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli.js"]
# --config defaults to $THROTTLEGATE_CONFIG.
CMD ["serve"]
