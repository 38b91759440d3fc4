/** A TCP proxy on 127.0.0.1 that a test can cut: to take a server away from a running instance. */

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** Stops listening and drops every connection: the target is gone, as far as clients know. */
  cut(): Promise<void>;
}

/** Forwards connections on a free port to `hostname:port`. */
export function startTcpProxy(hostname: string, port: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const piping: Promise<unknown>[] = [];

  async function serve(): Promise<void> {
    for await (const client of listener) {
      const target = await Deno.connect({ hostname, port }).catch(() => null);
      if (target === null) {
        client.close();
        continue;
      }
      open.add(client).add(target);
      const pipe = (from: Deno.Conn, to: Deno.Conn) =>
        from.readable.pipeTo(to.writable).catch(() => {}).finally(() => {
          for (const conn of [from, to]) {
            if (open.delete(conn)) {
              try {
                conn.close();
              } catch {
                // already closed
              }
            }
          }
        });
      piping.push(pipe(client, target), pipe(target, client));
    }
  }
  const serving = serve().catch(() => {});

  return {
    port: (listener.addr as Deno.NetAddr).port,
    async cut() {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
      open.clear();
      await Promise.allSettled([serving, ...piping]);
    },
  };
}
