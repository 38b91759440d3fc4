/**
 * HTTP/1.1 over a raw socket, for requests `fetch` will not send: a GET with a body, a method of
 * no RFC, headers past any limit, a body that stops halfway.
 */

/** A response as it came off the wire; `body` is empty when there was none. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: string;
  /** The bytes as they came, head included. */
  raw: string;
}

const encoder = new TextEncoder();

/**
 * Sends `parts` in turn (bytes, or a pause in ms before the next) and reads the first response:
 * up to its Content-Length, or until the server closes the connection. Answers null when the
 * connection closed before a whole head arrived.
 */
export async function rawExchange(
  port: number,
  parts: (string | Uint8Array | number)[],
): Promise<RawResponse | null> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const sending = (async () => {
      for (const part of parts) {
        if (typeof part === "number") await new Promise((resolve) => setTimeout(resolve, part));
        else await conn.write(typeof part === "string" ? encoder.encode(part) : part);
      }
    })().catch(() => {}); // the server may answer and close before all of it is sent
    let bytes = new Uint8Array(0);
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const text = new TextDecoder().decode(bytes);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
        if (length && bytes.length - (end + 4) >= Number(length[1])) break;
      }
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      const more = new Uint8Array(bytes.length + n);
      more.set(bytes);
      more.set(buffer.subarray(0, n), bytes.length);
      bytes = more;
    }
    await Promise.race([sending, new Promise((resolve) => setTimeout(resolve, 10))]);
    const raw = new TextDecoder().decode(bytes);
    const end = raw.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const [statusLine, ...headerLines] = raw.slice(0, end).split("\r\n");
    const headers = new Headers();
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return {
      status: Number(statusLine.split(" ")[1]),
      headers,
      body: raw.slice(end + 4),
      raw,
    };
  } finally {
    try {
      conn.close();
    } catch {
      // closed by the server already
    }
  }
}

/** A request's head: the request line, Host, the given headers, and the blank line. */
export function head(
  method: string,
  target: string,
  headers: Record<string, string | number> = {},
): string {
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${target} HTTP/1.1\r\nHost: test\r\n${lines.join("")}\r\n`;
}
