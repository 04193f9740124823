import type { FastifyReply } from 'fastify';

/** The admin API's error bodies: `{"error":"<token>"}` plus details (problems with field paths). */
export function adminError(reply: FastifyReply, status: number, error: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send({ error, ...extra });
}
