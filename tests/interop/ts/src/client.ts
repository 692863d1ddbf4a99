// Runs the interop plan (tests/interop/plan.py) with a TypeScript client generated from this
// repo's protos by protoc-gen-es, over @connectrpc/connect-node.
//
//   node dist/src/client.js < job.json > outcomes.json
//
// job: {"transport": "connect-binary" | "connect-json" | "grpc" | "grpc-web",
//       "baseUrl": "http://127.0.0.1:PORT/api", "plan": {"steps": [...], "tokens": {...}}}
//   or {"mode": "describe"}: no calls; prints the generated code's view of the schema (methods
//   with kind and idempotency, every field's number, JSON name, presence and deprecation), which
//   the Python side compares with this repo's descriptors.
// Every request is built with the generated schema (fromJson) and sent with the generated
// service client; every response is rendered with toJson, so the Python side compares the
// same canonical JSON for every client. The step contract is plan.py's: keep them in step.

import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import {
  CancelPrebuildRequestSchema,
  CancelPrebuildResponseSchema,
  CreatePrebuildLogsTokenRequestSchema,
  CreatePrebuildLogsTokenResponseSchema,
  CreatePrebuildRequestSchema,
  CreatePrebuildResponseSchema,
  CreateWarmPoolRequestSchema,
  CreateWarmPoolResponseSchema,
  DeletePrebuildRequestSchema,
  DeletePrebuildResponseSchema,
  DeleteWarmPoolRequestSchema,
  DeleteWarmPoolResponseSchema,
  GetPrebuildRequestSchema,
  GetPrebuildResponseSchema,
  GetWarmPoolRequestSchema,
  GetWarmPoolResponseSchema,
  ListPrebuildsRequestSchema,
  ListPrebuildsResponseSchema,
  ListWarmPoolsRequestSchema,
  ListWarmPoolsResponseSchema,
  PrebuildService,
  UpdateWarmPoolRequestSchema,
  file_gitpod_v1_prebuild,
  UpdateWarmPoolResponseSchema,
} from "../gen/gitpod/v1/prebuild_pb.js";

type JsonObject = { [key: string]: JsonValue };
type Outcome = { [key: string]: JsonValue };
type TransportName = "connect-binary" | "connect-json" | "grpc" | "grpc-web";

interface Step {
  name: string;
  method: string;
  request: JsonObject;
  token: string;
  paged: boolean;
}

interface Job {
  mode?: "describe";
  transport: TransportName;
  http2?: boolean; // h2c with prior knowledge instead of HTTP/1.1 (Connect, gRPC-Web)
  gzip?: boolean; // gzip-compressed requests, and accept gzip responses
  timeoutMs?: number; // a deadline on every call (Connect-Timeout-Ms / grpc-timeout); 0: none
  baseUrl: string;
  plan: { steps: Step[]; tokens: Record<string, string | null> };
}

const MAX_PAGES = 10;
const REF = /^\$\{([A-Za-z0-9_.]+)\}$/;

function transportFor(job: Job): Transport {
  const options = {
    baseUrl: job.baseUrl,
    sendCompression: job.gzip ? compressionGzip : undefined,
    acceptCompression: job.gzip ? [compressionGzip] : [],
    // Compress every request, however small, so the server always has to inflate.
    compressMinBytes: 0,
    defaultTimeoutMs: job.timeoutMs ? job.timeoutMs : undefined,
  };
  switch (job.transport) {
    case "connect-binary":
    case "connect-json": {
      const connect = {
        ...options,
        useBinaryFormat: job.transport === "connect-binary",
        // JSON also uses HTTP GET for the NO_SIDE_EFFECTS methods (Get*, List*).
        useHttpGet: job.transport === "connect-json",
      };
      return job.http2
        ? createConnectTransport({ ...connect, httpVersion: "2" })
        : createConnectTransport({ ...connect, httpVersion: "1.1" });
    }
    case "grpc":
      return createGrpcTransport(options);
    case "grpc-web":
      return job.http2
        ? createGrpcWebTransport({ ...options, httpVersion: "2", useBinaryFormat: true })
        : createGrpcWebTransport({ ...options, httpVersion: "1.1", useBinaryFormat: true });
  }
}

async function invoke(
  client: Client<typeof PrebuildService>,
  method: string,
  body: JsonObject,
  headers: Record<string, string>,
): Promise<JsonValue> {
  const options = { headers };
  switch (method) {
    case "CreatePrebuild":
      return toJson(
        CreatePrebuildResponseSchema,
        await client.createPrebuild(fromJson(CreatePrebuildRequestSchema, body), options),
      );
    case "ListPrebuilds":
      return toJson(
        ListPrebuildsResponseSchema,
        await client.listPrebuilds(fromJson(ListPrebuildsRequestSchema, body), options),
      );
    case "GetPrebuild":
      return toJson(
        GetPrebuildResponseSchema,
        await client.getPrebuild(fromJson(GetPrebuildRequestSchema, body), options),
      );
    case "CancelPrebuild":
      return toJson(
        CancelPrebuildResponseSchema,
        await client.cancelPrebuild(fromJson(CancelPrebuildRequestSchema, body), options),
      );
    case "DeletePrebuild":
      return toJson(
        DeletePrebuildResponseSchema,
        await client.deletePrebuild(fromJson(DeletePrebuildRequestSchema, body), options),
      );
    case "CreatePrebuildLogsToken":
      return toJson(
        CreatePrebuildLogsTokenResponseSchema,
        await client.createPrebuildLogsToken(
          fromJson(CreatePrebuildLogsTokenRequestSchema, body),
          options,
        ),
      );
    case "CreateWarmPool":
      return toJson(
        CreateWarmPoolResponseSchema,
        await client.createWarmPool(fromJson(CreateWarmPoolRequestSchema, body), options),
      );
    case "GetWarmPool":
      return toJson(
        GetWarmPoolResponseSchema,
        await client.getWarmPool(fromJson(GetWarmPoolRequestSchema, body), options),
      );
    case "ListWarmPools":
      return toJson(
        ListWarmPoolsResponseSchema,
        await client.listWarmPools(fromJson(ListWarmPoolsRequestSchema, body), options),
      );
    case "UpdateWarmPool":
      return toJson(
        UpdateWarmPoolResponseSchema,
        await client.updateWarmPool(fromJson(UpdateWarmPoolRequestSchema, body), options),
      );
    case "DeleteWarmPool":
      return toJson(
        DeleteWarmPoolResponseSchema,
        await client.deleteWarmPool(fromJson(DeleteWarmPoolRequestSchema, body), options),
      );
    default:
      throw new Error(`the TypeScript executor has no case for ${method}`);
  }
}

function snake(name: string): string {
  return name.replace(/(?<!^)([A-Z])/g, "_$1").toLowerCase();
}

function errorOutcome(err: unknown): Outcome {
  const e = ConnectError.from(err);
  const details: JsonValue[] = e.details.map((d) =>
    "type" in d
      ? { type: d.type, value: Buffer.from(d.value).toString("base64") }
      : { type: "(outgoing detail)", value: "" },
  );
  return { error: { code: snake(Code[e.code]), message: e.rawMessage, details } };
}

function resolve(value: JsonValue, outcomes: Record<string, Outcome>): JsonValue {
  if (Array.isArray(value)) {
    return value.map((v) => resolve(v, outcomes));
  }
  if (value !== null && typeof value === "object") {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = resolve(v, outcomes);
    }
    return out;
  }
  if (typeof value === "string") {
    const m = REF.exec(value);
    if (m !== null) {
      const [step, ...path] = m[1].split(".");
      let found: JsonValue | undefined = outcomes[step]?.ok;
      if (found === undefined) {
        throw new Error(`${value}: step ${step} did not succeed`);
      }
      for (const key of path) {
        found = (found as JsonObject)[key];
      }
      return found ?? null;
    }
  }
  return value;
}

async function runStep(
  client: Client<typeof PrebuildService>,
  step: Step,
  request: JsonObject,
  token: string | null,
): Promise<Outcome> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  if (!step.paged) {
    try {
      return { ok: await invoke(client, step.method, request, headers) };
    } catch (err) {
      return errorOutcome(err);
    }
  }
  const pages: JsonValue[] = [];
  let body = request;
  while (pages.length < MAX_PAGES) {
    let page: JsonObject;
    try {
      page = (await invoke(client, step.method, body, headers)) as JsonObject;
    } catch (err) {
      return { ...errorOutcome(err), pagesBefore: pages };
    }
    pages.push(page);
    const next = ((page.pagination ?? {}) as JsonObject).nextToken;
    if (typeof next !== "string" || next === "") {
      return { pages };
    }
    const pagination = { ...((body.pagination ?? {}) as JsonObject), token: next };
    body = { ...body, pagination };
  }
  return { crash: `more than ${MAX_PAGES} pages`, pages };
}

function describe(): JsonValue {
  const methods: JsonValue[] = PrebuildService.methods.map((m) => ({
    name: m.name,
    kind: m.methodKind,
    idempotency: m.idempotency,
  }));
  const messages: JsonObject = {};
  for (const message of file_gitpod_v1_prebuild.messages) {
    messages[message.name] = message.fields.map((f) => ({
      name: f.name,
      number: f.number,
      jsonName: f.jsonName,
      optional: f.proto.proto3Optional ?? false,
      deprecated: f.deprecated,
    }));
  }
  return { methods, messages };
}

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  const job = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Job;
  if (job.mode === "describe") {
    process.stdout.write(JSON.stringify(describe()));
    return;
  }
  const client = createClient(PrebuildService, transportFor(job));
  const outcomes: Record<string, Outcome> = {};
  for (const step of job.plan.steps) {
    try {
      const request = resolve(step.request, outcomes) as JsonObject;
      const token = job.plan.tokens[step.token] ?? null;
      outcomes[step.name] = await runStep(client, step, request, token);
    } catch (err) {
      outcomes[step.name] = { crash: String(err) };
    }
  }
  process.stdout.write(JSON.stringify({ outcomes }));
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
