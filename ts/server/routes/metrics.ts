// Metrics routes: Prometheus text exposition on /metrics, the pool's JSON snapshot on
// /metrics/json. Behind the API key like every route but /health.

import type { RouteModule } from '../context.js';

export const metricsRoutes: RouteModule = (app, ctx) => {
  app.get('/metrics', async (_req, reply) => {
    const text = await ctx.metrics.expose(ctx.pool());
    return reply.type(ctx.metrics.contentType).send(text);
  });
  app.get('/metrics/json', async () => ctx.pool().metrics());
};
