/**
 * The app served by `node:http` instead of `Deno.serve` (HTTP_SERVER=node), for instances that
 * carry many streams: under Deno 2.9 a `Deno.serve` response that streams costs about 60 KB of
 * memory, a `node:http` one about 20 KB — while `Deno.serve` answers plain requests about twice
 * as fast. Requests become web `Request`s for the same Hono app; responses are written back as
 * they are, and a body that offers to attach a sink (the live stream's, see ATTACH) is given the
 * socket itself instead of being piped through a stream.
 */
import http from "node:http";
import { type Duplex, Readable } from "node:stream";
import { Problem } from "./problem.ts";
import { STATUS_TEXT } from "./status.ts";

/** A body property: a function that takes over delivery to a node response (see `NodeSink`). */
export const ATTACH = Symbol.for("scoreboard.attach");

/** Where a stream body writes when it is attached to a node response. */
export interface NodeSink {
  /** Bytes written but not yet taken by the kernel. */
  readonly pending: number;
  write(bytes: Uint8Array): void;
  end(): void;
  /** Called once when the client goes away. */
  onClose(listener: () => void): void;
}

/** A body that can be attached (see ATTACH). */
export interface AttachableBody {
  [ATTACH](sink: NodeSink): void;
}

/**
 * Each write of an attached stream as one HTTP/1.1 chunk, framed once per distinct bytes: the hub
 * writes the same event to every stream, so ten thousand sockets share one framed copy and each
 * gets one plain socket write (node's own chunking costs a writev of three parts per response).
 */
const framedChunks = new WeakMap<Uint8Array, Uint8Array>();
const CRLF = new Uint8Array([13, 10]);

function framed(bytes: Uint8Array): Uint8Array {
  let chunk = framedChunks.get(bytes);
  if (!chunk) {
    const size = new TextEncoder().encode(bytes.length.toString(16));
    chunk = new Uint8Array(size.length + 2 + bytes.length + 2);
    chunk.set(size);
    chunk.set(CRLF, size.length);
    chunk.set(bytes, size.length + 2);
    chunk.set(CRLF, size.length + 2 + bytes.length);
    framedChunks.set(bytes, chunk);
  }
  return chunk;
}

function attachable(body: unknown): body is AttachableBody {
  return typeof (body as Partial<AttachableBody> | null)?.[ATTACH] === "function";
}

/** What the handler gets besides the request: the client's address, as Deno.serve gives it. */
export interface NodeServeInfo {
  remoteAddr: { transport: "tcp"; hostname: string; port: number };
}

/** A running node server, shaped like the part of Deno.HttpServer that main.ts uses. */
export interface NodeHttpServer {
  readonly port: number;
  /** Stops accepting, closes idle connections, and resolves when every request has ended. */
  shutdown(): Promise<void>;
}

/** Bodies of GET and HEAD requests, which a web `Request` cannot hold (see `requestBody`). */
const looseBodies = new WeakMap<Request, ReadableStream<Uint8Array>>();

/**
 * The body of a request, whatever its method: a GET may carry one (to be checked and ignored),
 * which `Deno.serve` keeps on the request and this server beside it.
 */
export function requestBody(request: Request): ReadableStream<Uint8Array> | null {
  return request.body ?? looseBodies.get(request) ?? null;
}

function toRequest(req: http.IncomingMessage): Request {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  }
  const method = req.method ?? "GET";
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  if (method === "GET" || method === "HEAD") {
    const request = new Request(url, { method, headers });
    const length = req.headers["content-length"];
    if ((length !== undefined && length !== "0") || req.headers["transfer-encoding"]) {
      looseBodies.set(request, Readable.toWeb(req) as ReadableStream<Uint8Array>);
    }
    return request;
  }
  return new Request(url, {
    method,
    headers,
    body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
    // @ts-ignore: a streamed request body needs it (part of RequestInit in fetch's spec)
    duplex: "half",
  });
}

async function writeResponse(response: Response, res: http.ServerResponse): Promise<void> {
  const headers: string[] = [];
  response.headers.forEach((value, name) => headers.push(name, value));
  const body = response.body;
  if (attachable(body)) {
    res.writeHead(response.status, headers);
    res.flushHeaders();
    const socket = res.socket;
    // The client is already gone: nothing to attach (the body never subscribes).
    if (!socket) return;
    // HTTP/1.1 is chunked: one framed copy per event, written straight to the socket. An HTTP/1.0
    // client (no chunking: the body ends with the connection) goes through node's own write.
    const direct = res.chunkedEncoding;
    body[ATTACH]({
      get pending() {
        return direct ? socket.writableLength : res.writableLength;
      },
      write: direct ? (bytes) => socket.write(framed(bytes)) : (bytes) => res.write(bytes),
      end: () => res.end(),
      onClose: (listener) => res.once("close", listener),
    });
    return;
  }
  if (body === null) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  // Every answer of the app is whole but the event stream: sent at once, with its length.
  if (!response.headers.get("content-type")?.startsWith("text/event-stream")) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (!response.headers.has("content-length")) {
      headers.push("content-length", String(bytes.length));
    }
    res.writeHead(response.status, headers);
    res.end(bytes);
    return;
  }
  // A stream that cannot be attached: piped, chunked.
  res.writeHead(response.status, headers);
  const reader = body.getReader();
  res.once("close", () => reader.cancel().catch(() => {}));
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) break;
    if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
  }
  res.end();
}

/** Request lines and headers node reads (the app refuses past its own, smaller limits). */
const NODE_MAX_HEADER_BYTES = 64 * 1024;

/** A request line: its method a token, maybe not one node's parser knows. */
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) \S+ HTTP\/1\.[01]\r\n/;

/** Whether node refused the request only for a method it does not know. */
function unknownMethod(error: NodeJS.ErrnoException & { rawPacket?: Uint8Array }): boolean {
  if (error.code === "HPE_INVALID_METHOD") return true;
  if (error.code !== "HPE_ERROR" || error.rawPacket === undefined) return false;
  const line = REQUEST_LINE.exec(new TextDecoder().decode(error.rawPacket.subarray(0, 8192)));
  return line !== null && !http.METHODS.includes(line[1]);
}

/** What a request node could not parse is told, as a problem (node's own answers have no body). */
function refuse(error: NodeJS.ErrnoException & { rawPacket?: Uint8Array }, socket: Duplex): void {
  const [status, detail] = error.code === "HPE_HEADER_OVERFLOW"
    ? [431, `The request line and headers are limited to ${NODE_MAX_HEADER_BYTES} bytes.`]
    : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? [408, "The request did not arrive in time."]
    : unknownMethod(error)
    ? [501, "The request's method is not one this server knows."]
    : [400, "The request is not valid HTTP/1.1."];
  if (!socket.writable || error.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(new Problem(status, { detail }));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\ncontent-type: application/problem+json\r\n` +
      `content-length: ${new TextEncoder().encode(body).length}\r\nconnection: close\r\n\r\n` +
      body,
  );
}

/** Serves `fetch` on `port` with node:http; calls `onListen` once it listens. */
export function serveWithNode(
  options: {
    port: number;
    hostname?: string;
    onListen(addr: { hostname: string; port: number }): void;
  },
  fetch: (request: Request, info: NodeServeInfo) => Response | Promise<Response>,
): NodeHttpServer {
  let inFlight = 0;
  let idle: (() => void) | undefined;
  // Past the app's own limits (431, 414 as problems) up to this; past this, node refuses them.
  const server = http.createServer({ maxHeaderSize: NODE_MAX_HEADER_BYTES }, async (req, res) => {
    inFlight++;
    res.once("close", () => {
      if (--inFlight === 0) idle?.();
    });
    try {
      const response = await fetch(toRequest(req), {
        remoteAddr: {
          transport: "tcp",
          hostname: req.socket.remoteAddress ?? "unknown",
          port: req.socket.remotePort ?? 0,
        },
      });
      await writeResponse(response, res);
    } catch {
      // The app renders its own errors: this is a connection gone wrong. Close it.
      res.destroy();
    }
  });
  server.on("clientError", refuse);
  // Streams stay open for hours; the heartbeat keeps them from looking idle.
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 20_000;
  server.requestTimeout = 0;
  const hostname = options.hostname ?? "0.0.0.0";
  server.listen(options.port, hostname, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : options.port;
    options.onListen({ hostname, port });
  });
  return {
    get port() {
      const address = server.address();
      return typeof address === "object" && address ? address.port : options.port;
    },
    shutdown() {
      return new Promise((resolve) => {
        server.close();
        server.closeIdleConnections();
        if (inFlight === 0) resolve();
        else idle = resolve;
      });
    },
  };
}
