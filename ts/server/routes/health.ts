// Health routes for orchestrators: liveness (the process answers) and readiness (the model is
// loaded and the server is not draining). Open to every caller: no API key, no Host check.

import type { RouteModule } from '../context.js';

export const healthRoutes: RouteModule = (app, ctx) => {
  const live = async () => ({ status: 'ok', model: ctx.modelName });
  app.get('/health', live);
  app.get('/health/live', live);
  app.get('/health/ready', async (_req, reply) => {
    const s = ctx.state();
    return reply.code(s.status === 'ready' ? 200 : 503).send({ status: s.status, model: ctx.modelName, ...(s.error ? { error: s.error } : {}) });
  });
};
