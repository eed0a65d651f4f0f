// `bver up`'s /mcp endpoint driven by the official MCP TypeScript SDK client
// over Streamable HTTP. Run by CTest: node tests/mcp/http_client_test.mjs
// BVER_EXE from the source root. The SDK comes from tests/mcp/node_modules
// (scripts/npm_test_deps.sh); a missing SDK fails the test.
//
// Two servers on free loopback ports in a temporary copy of the substation
// example: first with auth off (callers are the local operator), then, after
// a read-only API key was created, with auth on.
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

import { startServer, stopServer } from "./serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const exe = process.argv[2] && path.resolve(process.argv[2]);
assert.ok(exe && fs.existsSync(exe), `usage: node http_client_test.mjs BVER_EXE (got ${exe})`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-mcp-http-"));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;

let passed = 0;
let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

// A raw request, so headers the SDK never sends (a foreign Host) can be set.
function raw(url, { method = "POST", headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
const kPing = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
const kJsonHeaders = { "Content-Type": "application/json", Accept: "application/json, text/event-stream" };

function connect(url, headers) {
  const client = new Client({ name: "bver-mcp-http-test", version: "0.1.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), headers ? { requestInit: { headers } } : undefined);
  return { client, transport, ready: client.connect(transport) };
}

const servers = [];
try {
  // ---- auth off: the local operator ----
  const open = await startServer(exe, project, env);
  servers.push(open);
  const url = `${open.url}/mcp`;
  const { client, transport, ready } = connect(url);
  await ready;
  let site;

  await step("initialize over HTTP, stateless", async () => {
    assert.equal(client.getServerVersion().name, "bver");
    assert.ok(client.getServerCapabilities().tools, "tools capability");
    assert.equal(transport.sessionId, undefined, "no Mcp-Session-Id");
    await client.ping();
  });

  await step("tools/list", async () => {
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor ? { cursor } : {});
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    const names = tools.map((t) => t.name);
    assert.ok(names.includes("refs.site.create"), names.join(" "));
    assert.ok(names.includes("refs.site.get"));
    for (const t of tools) assert.equal(t.inputSchema.type, "object", `${t.name} inputSchema`);
  });

  await step("tools/call refs.site.create and refs.site.get", async () => {
    const created = await client.callTool({
      name: "refs.site.create",
      arguments: { kind: "power.substation", body: { name: "North", bays: 4 } },
    });
    assert.notEqual(created.isError, true, JSON.stringify(created));
    site = created.structuredContent;
    assert.equal(site.body.name, "North");
    assert.equal(site.version, 1);
    assert.match(site.pointer, /^bver:\/\/sites\/site\//);
    const got = await client.callTool({ name: "refs.site.get", arguments: { id: site.id } });
    assert.notEqual(got.isError, true, JSON.stringify(got));
    assert.equal(got.structuredContent.id, site.id);
    assert.equal(got.structuredContent.body.bays, 4);
  });

  await step("tools/call with bad input is an isError result", async () => {
    const bad = await client.callTool({ name: "refs.site.create", arguments: { body: { name: 7 } } });
    assert.equal(bad.isError, true);
    const problem = JSON.parse(bad.content[0].text);
    assert.equal(problem.code, "invalid_argument");
    assert.ok(problem.errors.some((e) => e.path.includes("name")), bad.content[0].text);
  });

  await step("tools/call of an unknown tool is a JSON-RPC error", async () => {
    await assert.rejects(client.callTool({ name: "no.such.tool", arguments: {} }), (e) => e.code === -32602);
  });

  await step("resources/list pages with a cursor", async () => {
    // More sites than one page holds (50), so the cursor is exercised.
    for (let i = 0; i < 55; i++) {
      const r = await client.callTool({ name: "refs.site.create", arguments: { body: { name: `S${i}` } } });
      assert.notEqual(r.isError, true, JSON.stringify(r));
    }
    const all = [];
    let cursor;
    let pages = 0;
    do {
      const page = await client.listResources(cursor ? { cursor } : {});
      all.push(...page.resources);
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 20);
    assert.ok(pages >= 2, `expected several pages, got ${pages}`);
    assert.equal(cursor, undefined, "paging ends");
    const uris = all.map((r) => r.uri);
    assert.equal(new Set(uris).size, uris.length, "no resource twice");
    assert.equal(all.filter((r) => r.uri.startsWith("bver://sites/site/")).length, 56);
    assert.ok(uris.includes(site.pointer));
    for (const r of all) assert.equal(typeof r.description, "string");
    await assert.rejects(client.listResources({ cursor: "not-a-cursor" }), (e) => e.code === -32602);
  });

  await step("resources/read of the site and of an attribute path", async () => {
    const whole = await client.readResource({ uri: site.pointer });
    assert.equal(whole.contents[0].uri, site.pointer);
    assert.equal(whole.contents[0].mimeType, "application/json");
    assert.equal(JSON.parse(whole.contents[0].text).name, "North");
    const uri = `bver://sites/site/${site.id}@name`;
    const attr = await client.readResource({ uri });
    assert.equal(JSON.parse(attr.contents[0].text), "North");
  });

  await step("resources/read of a bad or missing pointer is a JSON-RPC error", async () => {
    await assert.rejects(client.readResource({ uri: "not a pointer" }), (e) => e.code === -32602);
    const uri = "bver://sites/site/no-such-site";
    await assert.rejects(client.readResource({ uri }), (e) => e.code === -32002 && e.data && e.data.uri === uri);
  });

  await step("HTTP rules: GET 405, foreign Host/Origin 403, bad version 400, notification 202", async () => {
    const get = await raw(url, { method: "GET", headers: { Accept: "text/event-stream" } });
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST");
    const host = await raw(url, { headers: { ...kJsonHeaders, Host: "evil.example.com" }, body: kPing });
    assert.equal(host.status, 403, host.text);
    assert.equal(JSON.parse(host.text).error.code, -32000);
    const origin = await raw(url, { headers: { ...kJsonHeaders, Origin: "http://evil.example.com" }, body: kPing });
    assert.equal(origin.status, 403, origin.text);
    const version = await raw(url, { headers: { ...kJsonHeaders, "MCP-Protocol-Version": "1999-01-01" }, body: kPing });
    assert.equal(version.status, 400, version.text);
    const note = await raw(url, {
      headers: kJsonHeaders,
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    });
    assert.equal(note.status, 202);
    assert.equal(note.text, "");
    const parse = await raw(url, { headers: kJsonHeaders, body: "{nope" });
    assert.equal(parse.status, 400);
    assert.equal(JSON.parse(parse.text).error.code, -32700);
    const ok = await raw(url, { headers: { ...kJsonHeaders, Origin: open.url }, body: kPing });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(JSON.parse(ok.text), { jsonrpc: "2.0", id: 1, result: {} });
  });

  await client.close().catch(() => {});
  await step("SIGTERM stops bver up with exit 0 (auth off)", async () => {
    assert.equal(await stopServer(servers.shift()), 0);
  });

  // ---- auth on: a read-only API key ----
  const made = JSON.parse(
    execFileSync(exe, ["keys", "create", "--scopes", "sites.site:read", "--json"], { cwd: project, env }).toString(),
  );
  const guarded = await startServer(exe, project, env);
  servers.push(guarded);
  const gurl = `${guarded.url}/mcp`;

  await step("auth on: no credentials is 401 with a Bearer challenge", async () => {
    const anon = await raw(gurl, { headers: kJsonHeaders, body: kPing });
    assert.equal(anon.status, 401, anon.text);
    assert.match(anon.headers["www-authenticate"], /^Bearer/);
    const c = connect(gurl);
    await assert.rejects(c.ready);
    await c.client.close().catch(() => {});
    const wrong = connect(gurl, { Authorization: "Bearer bver_nope_nope" });
    await assert.rejects(wrong.ready);
    await wrong.client.close().catch(() => {});
  });

  await step("auth on: a read-only key reads but cannot write", async () => {
    const keyed = connect(gurl, { Authorization: `Bearer ${made.key}` });
    await keyed.ready;
    try {
      const got = await keyed.client.callTool({ name: "refs.site.get", arguments: { id: site.id } });
      assert.notEqual(got.isError, true, JSON.stringify(got));
      const read = await keyed.client.readResource({ uri: site.pointer });
      assert.equal(JSON.parse(read.contents[0].text).name, "North");
      const denied = await keyed.client.callTool({ name: "refs.site.create", arguments: { body: { name: "South" } } });
      assert.equal(denied.isError, true);
      assert.equal(JSON.parse(denied.content[0].text).code, "permission_denied");
    } finally {
      await keyed.client.close().catch(() => {});
    }
    const viaHeader = connect(gurl, { "X-API-Key": made.key });
    await viaHeader.ready;
    await viaHeader.client.ping();
    await viaHeader.client.close().catch(() => {});
  });

  await step("SIGTERM stops bver up with exit 0 (auth on)", async () => {
    assert.equal(await stopServer(servers.shift()), 0);
  });
} catch (e) {
  failed++;
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
} finally {
  for (const s of servers) s.child.kill("SIGKILL");
  fs.rmSync(project, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
