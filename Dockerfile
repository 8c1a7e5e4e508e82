# attnode serve as a container image. The build stage compiles the addon once into a prebuilt
# binary (prebuildify, node-gyp) and packs the npm tarball; the runtime stage installs that
# tarball with no compiler present and runs `attnode serve`. See docs/deployment.md.
#
#   docker build -t attnode .
#   docker run -p 8080:8080 -e ATTNODE_API_KEY=... -v /path/models:/models attnode --model /models/model.gguf
#
# Without Docker, tools/check-dockerfile.sh runs these same steps on the host.

FROM node:22-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the addon is built below by node-gyp (prebuildify), not by cmake-js.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# node-gyp builds against this image's own Node headers; a Node-API binary fits later versions too.
ENV npm_config_nodedir=/usr/local
RUN npm run build:ts && node tools/prebuild.mjs -t "$(node -p process.versions.node)" && mkdir /out && npm pack --pack-destination /out

FROM node:22-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /out/ /pkg/
RUN echo '{"name":"attnode-server","private":true}' > package.json \
 && npm install --omit=dev --no-audit --no-fund /pkg/attnode-*.tgz \
 && rm -rf /pkg /root/.npm \
 && node -e "import('attnode').then(() => console.log('attnode loads'))"
USER node
EXPOSE 8080
# SIGTERM drains (readiness turns 503, queued requests get 503 after --drain-timeout-ms);
# SIGHUP reloads the model. Arguments after the image name are passed to `attnode serve`.
ENTRYPOINT ["node", "/app/node_modules/attnode/dist/cli.js", "serve", "--host", "0.0.0.0", "--port", "8080"]
