// One front door: every operation row is on every surface, and answers the
// same through each. Against a real `bver up` on the substation example:
//
//   - every row of `bver call --list` is in bver.manifest.json, in the
//     OpenAPI document (its own route's operationId, or POST /v1/ops/{id})
//     and in MCP tools/list (the official SDK client over Streamable HTTP);
//   - every row called with the same input through the four surfaces -- the
//     CLI in-process, the CLI with --server, REST (POST /v1/ops/{id}) and MCP
//     tools/call -- answers the same: success with the same fields, or the
//     same problem code;
//   - a write through each surface stores the same reference and carries
//     the caller's correlation id into its event.
//
// Run by CTest: node tests/mcp/surfaces_test.mjs BVER_EXE from the source root.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { startServer, stopServer } from "./serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const exe = process.argv[2] && path.resolve(process.argv[2]);
assert.ok(exe && fs.existsSync(exe), `usage: node surfaces_test.mjs BVER_EXE (got ${exe})`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-surfaces-"));
process.on("exit", () => fs.rmSync(project, { recursive: true, force: true }));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;
delete env.BVER_SERVER;

let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

function cli(args) {
  const r = spawnSync(exe, ["-C", project, ...args], { env, encoding: "utf8", timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// What an answer is, for comparing surfaces: success and its fields, or the
// problem's code.
function outcome(ok, body) {
  if (!ok) return { ok: false, code: body && body.code };
  return { ok: true, fields: Object.keys(body ?? {}).sort() };
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const server = await startServer(exe, project, env);
const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
const client = new Client({ name: "bver-surfaces-test", version: "0.1.0" });

try {
  await client.connect(transport);

  const listed = cli(["call", "--list", "--json"]);
  assert.equal(listed.code, 0, listed.err);
  const rows = JSON.parse(listed.out).operations.map((r) => r.id);
  assert.ok(rows.length > 40, `only ${rows.length} rows`);

  await step("every row is in the manifest, the OpenAPI document and MCP tools/list", async () => {
    const compiled = cli(["compile"]);
    assert.equal(compiled.code, 0, compiled.err);
    const manifest = JSON.parse(fs.readFileSync(path.join(project, ".bver", "build", "bver.manifest.json"), "utf8"));
    const inManifest = new Set([...manifest.operations, ...manifest.kernel_operations].map((o) => o.id));

    const openapi = await (await fetch(`${server.url}/v1/openapi.json`)).json();
    const operationIds = new Set();
    for (const item of Object.values(openapi.paths)) {
      for (const op of Object.values(item)) if (op && op.operationId) operationIds.add(op.operationId);
    }

    const tools = new Set();
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      for (const t of page.tools) tools.add(t.name);
      cursor = page.nextCursor;
    } while (cursor);

    const missing = [];
    for (const id of rows) {
      if (!inManifest.has(id)) missing.push(`${id}: not in bver.manifest.json`);
      if (!operationIds.has(id) && !operationIds.has(`ops.${id}`)) missing.push(`${id}: not in the OpenAPI document`);
      if (!tools.has(id)) missing.push(`${id}: not in MCP tools/list`);
    }
    assert.deepEqual(missing, []);
    assert.equal(tools.size, rows.length, "MCP has a tool for each row and nothing else");
  });

  await step("every row answers the same through the CLI, the CLI --server, REST and MCP", async () => {
    const differences = [];
    const seen = { ok: 0, problems: {} };
    for (const id of rows) {
      const input = {};
      const local = cli(["call", id, "--input", JSON.stringify(input), "--json"]);
      const remote = cli(["call", id, "--input", JSON.stringify(input), "--server", server.url, "--json"]);
      const rest = await fetch(`${server.url}/v1/ops/${id}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(input),
      });
      const restBody = parse(await rest.text());
      const mcp = await client.callTool({ name: id, arguments: input });
      const mcpBody = mcp.isError ? parse(mcp.content[0].text) : mcp.structuredContent;
      const answers = {
        cli: outcome(local.code === 0, parse(local.out)),
        "cli --server": outcome(remote.code === 0, parse(remote.out)),
        rest: outcome(rest.ok, restBody),
        mcp: outcome(!mcp.isError, mcpBody),
      };
      const first = JSON.stringify(answers.cli);
      if (answers.cli.ok) seen.ok++;
      else seen.problems[answers.cli.code] = (seen.problems[answers.cli.code] ?? 0) + 1;
      if (answers.cli.ok === false && !answers.cli.code) differences.push(`${id}: the CLI printed no problem: ${local.out}${local.err}`);
      for (const [surface, a] of Object.entries(answers)) {
        if (JSON.stringify(a) !== first) differences.push(`${id}: ${surface} ${JSON.stringify(a)} vs cli ${first}`);
      }
    }
    assert.deepEqual(differences, []);
    console.log(`     ${rows.length} rows: ${seen.ok} answered, problems ${JSON.stringify(seen.problems)}`);
    // Both kinds of answer were compared, not one kind everywhere.
    assert.ok(seen.ok >= 5 && (seen.problems.invalid_argument ?? 0) >= 5, JSON.stringify(seen));
  });

  await step("a write through each surface stores the same reference with the caller's correlation id", async () => {
    const body = (id) => ({ id, kind: "power.substation", body: { name: "Same", voltage_levels_kv: [110, 20] } });
    const made = {};
    let r = cli(["call", "refs.site.create", "--input", JSON.stringify(body("s-cli")), "--correlation-id", "c-cli", "--json"]);
    assert.equal(r.code, 0, r.out + r.err);
    made["s-cli"] = "c-cli";
    r = cli(["call", "refs.site.create", "--input", JSON.stringify(body("s-remote")), "--server", server.url,
      "--correlation-id", "c-remote", "--json"]);
    assert.equal(r.code, 0, r.out + r.err);
    made["s-remote"] = "c-remote";
    const rest = await fetch(`${server.url}/v1/ops/refs.site.create`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Correlation-ID": "c-rest" },
      body: JSON.stringify(body("s-rest")),
    });
    assert.equal(rest.status, 200, await rest.text());
    made["s-rest"] = "c-rest";
    const mcp = await client.callTool({
      name: "refs.site.create",
      arguments: body("s-mcp"),
      _meta: { correlation_id: "c-mcp" },
    });
    assert.equal(mcp.isError, false, JSON.stringify(mcp));
    made["s-mcp"] = "c-mcp";

    const stored = {};
    for (const id of Object.keys(made)) {
      const got = await (await fetch(`${server.url}/v1/ops/refs.site.get`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id }),
      })).json();
      stored[id] = { kind: got.kind, version: got.version, body: got.body };
    }
    for (const id of Object.keys(made)) assert.deepEqual(stored[id], stored["s-cli"], id);

    const events = await (await fetch(`${server.url}/v1/events?event_types=ref.created&limit=1000`)).json();
    for (const [id, corr] of Object.entries(made)) {
      const e = events.events.find((x) => x.object_pointer === `bver://sites/site/${id}~1`);
      assert.ok(e, `no ref.created event for ${id}`);
      if (id !== "s-mcp") assert.equal(e.correlation_id, corr, id);
      else assert.ok(e.correlation_id, "an MCP write has a correlation id");
    }
  });
} finally {
  await client.close().catch(() => {});
  const code = await stopServer(server);
  if (code !== 0) {
    failed++;
    console.log(`FAIL bver up exited with ${code}`);
  }
}
if (failed > 0) {
  console.log(`${failed} step(s) failed`);
  process.exit(1);
}
console.log("surfaces test: all steps passed");
