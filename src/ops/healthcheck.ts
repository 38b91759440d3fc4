/**
 * The container's HEALTHCHECK (the image has no curl): exits 0 when this instance's liveness
 * route answers 200 within two seconds, else 1. Liveness, not readiness: a restart cannot bring
 * PostgreSQL back, so an instance is "unhealthy" only when it no longer answers at all.
 */

/** Whether GET /healthz on this machine's `port` answers 200 within `ms`. */
export async function live(port: string, ms = 2000): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(ms),
    });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

if (import.meta.main) {
  Deno.exit(await live(Deno.env.get("PORT") || "8000") ? 0 : 1);
}
