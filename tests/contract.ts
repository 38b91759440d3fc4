/**
 * The service's OpenAPI document as a test oracle: finds the operation a request reached and
 * checks a response against it — a listed status, a listed content type, the required headers,
 * a body valid against the schema with no field the schema does not describe, and a problem
 * `type` the response lists. `recording` wraps a test client so that every response is checked.
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { CallOptions, TestApp } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

// ajv-formats is CommonJS; its default export arrives wrapped under Deno's npm interop.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** One request and its response, the body read (null for a stream, which never ends). */
export interface Exchange {
  method: string;
  path: string;
  status: number;
  headers: Headers;
  body: string | null;
}

interface MediaType {
  essence: string;
  params: Map<string, string>;
}

function mediaType(value: string): MediaType {
  const [essence, ...rest] = value.split(";");
  const params = new Map<string, string>();
  for (const part of rest) {
    const [name, ...v] = part.split("=");
    if (name.trim()) params.set(name.trim().toLowerCase(), v.join("=").trim().toLowerCase());
  }
  return { essence: essence.trim().toLowerCase(), params };
}

/** Every object schema that does not say otherwise forbids properties it does not describe. */
function closeObjects(node: Json): void {
  if (Array.isArray(node)) return node.forEach(closeObjects);
  if (node === null || typeof node !== "object") return;
  if (node.type === "object" && node.properties && node.additionalProperties === undefined) {
    node.additionalProperties = false;
  }
  for (const value of Object.values(node)) closeObjects(value);
}

/** Checks exchanges against an OpenAPI 3.1 document. */
export class Contract {
  readonly doc: Json;
  readonly #ajv: Ajv2020;
  readonly #defs: Json;
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #paths: { template: string; pattern: RegExp }[];
  readonly #closedPaths: Json;
  readonly #closedResponses: Json;
  /** `METHOD template` of every operation an exchange reached. */
  readonly reached = new Set<string>();

  constructor(doc: Json) {
    this.doc = doc;
    // Schemas are read with their component references pointing at `$defs` of each one.
    const closed = JSON.parse(
      JSON.stringify(doc).replaceAll('"#/components/schemas/', '"#/$defs/'),
    );
    closeObjects(closed);
    this.#defs = closed.components.schemas;
    this.#paths = Object.keys(closed.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`),
    }));
    this.#closedPaths = closed.paths;
    this.#closedResponses = closed.components.responses ?? {};
    this.#ajv = new Ajv2020({ allErrors: true, strict: true });
    this.#ajv.addVocabulary(["example"]);
    addFormats(this.#ajv);
  }

  /** A validator of `schema`, whose references are into the document's schemas. */
  validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let validate = this.#validators.get(key);
    if (!validate) {
      validate = this.#ajv.compile({ ...schema, $defs: this.#defs });
      this.#validators.set(key, validate);
    }
    return validate;
  }

  /** Every schema of the document's components, compiled (an invalid one throws). */
  compileAll(): void {
    for (const name of Object.keys(this.#defs)) this.validator({ $ref: `#/$defs/${name}` });
  }

  /** The template and operation that `method path` reaches; HEAD falls back to GET's. */
  operation(method: string, path: string): { template: string; op: Json; head: boolean } {
    const pathname = new URL(path, "http://x").pathname;
    const found = this.#paths.find(({ pattern }) => pattern.test(pathname));
    if (!found) throw new Error(`${method} ${path}: no path of the document matches`);
    const item = this.#closedPaths[found.template];
    const m = method.toLowerCase();
    const op = item[m] ?? (m === "head" ? item.get : undefined);
    if (!op) throw new Error(`${method} ${path}: ${found.template} has no ${m} operation`);
    return { template: found.template, op, head: m === "head" };
  }

  /** What is wrong with `exchange` by the document (nothing: an empty list). */
  check(exchange: Exchange): string[] {
    const { method, path, status, headers, body } = exchange;
    const where = `${method} ${path} → ${status}`;
    let found;
    try {
      found = this.operation(method, path);
    } catch (error) {
      return [(error as Error).message];
    }
    this.reached.add(`${method === "HEAD" ? "HEAD" : method} ${found.template}`);
    const listed = found.op.responses[String(status)];
    if (!listed) return [`${where}: status not in the document`];
    // A shared response (the door's answers) is referred to by its component.
    const response = listed.$ref === undefined
      ? listed
      : this.#closedResponses[listed.$ref.replace("#/components/responses/", "")];
    const errors: string[] = [];
    for (const [name, header] of Object.entries<Json>(response.headers ?? {})) {
      const value = headers.get(name);
      if (value === null) {
        if (header.required) errors.push(`${where}: no ${name} header`);
      } else if (header.schema?.type === "integer" && !/^\d+$/.test(value)) {
        errors.push(`${where}: ${name} is not an integer: ${value}`);
      }
    }
    const content = response.content as Record<string, Json> | undefined;
    if (!content || found.head) {
      if (body !== null && body !== "") errors.push(`${where}: a body the document does not have`);
      if (!content) return errors;
    }
    const type = headers.get("content-type");
    if (type === null) return [...errors, `${where}: no content type`];
    const actual = mediaType(type);
    const key = Object.keys(content).find((documented) => {
      const expected = mediaType(documented);
      return expected.essence === actual.essence &&
        [...expected.params].every(([name, value]) => actual.params.get(name) === value);
    });
    if (key === undefined) {
      return [...errors, `${where}: content type ${type} not in ${Object.keys(content)}`];
    }
    if (found.head || body === null || !/[/+]json$/.test(actual.essence)) return errors;
    let parsed: Json;
    try {
      parsed = JSON.parse(body);
    } catch {
      return [...errors, `${where}: not JSON: ${body.slice(0, 200)}`];
    }
    const validate = this.validator(content[key].schema);
    if (!validate(parsed)) {
      errors.push(`${where}: ${JSON.stringify(validate.errors)} in ${body.slice(0, 500)}`);
    }
    const kinds: string[] | undefined = response["x-problem-types"];
    if (kinds && !kinds.includes(parsed?.type)) {
      errors.push(`${where}: problem type ${parsed?.type} not in ${kinds}`);
    }
    return errors;
  }
}

/** A client that records every exchange it makes through `app`, for `contract.check`. */
export function recording(app: Pick<TestApp, "call">) {
  const exchanges: Exchange[] = [];
  return {
    exchanges,
    async call(method: string, path: string, options?: CallOptions): Promise<Response> {
      const res = await app.call(method, path, options);
      const stream = (res.headers.get("content-type") ?? "").startsWith("text/event-stream");
      const body = stream && method !== "HEAD" ? null : await res.clone().text();
      exchanges.push({ method, path, status: res.status, headers: res.headers, body });
      return res;
    },
  };
}
