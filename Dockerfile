# syntax=docker/dockerfile:1.7
# Multi-stage: build with the dev dependencies, run with production ones only, as a non-root user.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN node scripts/prisma-generate.mjs \
 && node node_modules/@nestjs/cli/bin/nest.js build token-renewal \
 && node node_modules/@nestjs/cli/bin/nest.js build cli \
 && npm prune --omit=dev --ignore-scripts

FROM node:20.20-bookworm-slim AS runtime
# SERVICE_ENV of scripts/lib/project.mjs: malloc arenas capped (why: there).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/prisma ./prisma
# Key material lives on a volume; a named volume takes this directory's ownership when first mounted.
RUN mkdir -p /keys && chown node:node /keys
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# The heap cap of scripts/lib/project.mjs (SERVICE_NODE_ARGS), as every other launcher starts the service.
CMD ["node", "--max-old-space-size=160", "dist/apps/token-renewal/main.js"]
