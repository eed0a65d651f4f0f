// `bver mcp` driven by the official MCP TypeScript SDK client over stdio
// (issue 4 item 6). Run by CTest: node tests/mcp/stdio_client_test.mjs BVER_EXE
// from the source root. The SDK comes from tests/mcp/node_modules
// (scripts/npm_test_deps.sh); a missing SDK fails the test.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const exe = process.argv[2];
assert.ok(exe && fs.existsSync(exe), `usage: node stdio_client_test.mjs BVER_EXE (got ${exe})`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-mcp-"));
fs.copyFileSync(path.join(here, "..", "..", "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));

// The SDK passes only a few variables to the child unless given env.
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;
const transport = new StdioClientTransport({ command: exe, args: ["mcp"], cwd: project, env, stderr: "inherit" });
const client = new Client({ name: "bver-mcp-test", version: "0.1.0" });

let failed = false;
async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failed = true;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

try {
  await client.connect(transport);
  let site;

  await step("initialize", async () => {
    assert.equal(client.getServerVersion().name, "bver");
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools, "tools capability");
    assert.ok(caps.resources, "resources capability");
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
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", `${t.name} inputSchema`);
      if (t.outputSchema) assert.equal(t.outputSchema.type, "object", `${t.name} outputSchema`);
      assert.equal(typeof t.description, "string");
    }
    const get = tools.find((t) => t.name === "refs.site.get");
    assert.equal(get.annotations.readOnlyHint, true);
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
    assert.deepEqual(JSON.parse(created.content[0].text), site);

    const got = await client.callTool({ name: "refs.site.get", arguments: { id: site.id } });
    assert.notEqual(got.isError, true, JSON.stringify(got));
    assert.equal(got.structuredContent.id, site.id);
    assert.equal(got.structuredContent.body.bays, 4);
  });

  await step("migrate.plan is a tool: the store is at the manifest it serves", async () => {
    const plan = await client.callTool({ name: "migrate.plan", arguments: { limit: 5 } });
    assert.notEqual(plan.isError, true, JSON.stringify(plan));
    assert.equal(plan.structuredContent.state, "current");
    assert.equal(plan.structuredContent.from.fingerprint, plan.structuredContent.to.fingerprint);
    assert.ok(plan.structuredContent.references.examined >= 1, JSON.stringify(plan.structuredContent.references));
    const bad = await client.callTool({ name: "migrate.apply", arguments: { batch: 0 } });
    assert.equal(bad.isError, true);
    assert.equal(JSON.parse(bad.content[0].text).code, "invalid_argument");
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

  await step("resources/list", async () => {
    const all = [];
    let cursor;
    do {
      const page = await client.listResources(cursor ? { cursor } : {});
      all.push(...page.resources);
      cursor = page.nextCursor;
    } while (cursor);
    const mine = all.find((r) => r.uri === site.pointer);
    assert.ok(mine, JSON.stringify(all));
    for (const r of all) {
      assert.equal(typeof r.name, "string");
      assert.equal(typeof r.description, "string");
    }
  });

  await step("resources/templates/list", async () => {
    const { resourceTemplates } = await client.listResourceTemplates();
    assert.equal(resourceTemplates[0].uriTemplate, "bver://{namespace}/{repo}/{id}@{+path}");
    assert.ok(resourceTemplates.some((t) => t.uriTemplate === "bver://{namespace}/{repo}/{id}"));
  });

  await step("resources/read of the site and of an attribute path", async () => {
    const whole = await client.readResource({ uri: site.pointer });
    assert.equal(whole.contents[0].uri, site.pointer);
    assert.equal(JSON.parse(whole.contents[0].text).name, "North");
    const uri = `bver://sites/site/${site.id}@name`;
    const attr = await client.readResource({ uri });
    assert.equal(JSON.parse(attr.contents[0].text), "North");
  });

  await step("resources/read of a missing pointer is -32002", async () => {
    const uri = "bver://sites/site/no-such-site";
    await assert.rejects(client.readResource({ uri }), (e) => e.code === -32002 && e.data && e.data.uri === uri);
  });

  await step("BVER_API_KEY: a read-only key reads but cannot write", async () => {
    const made = JSON.parse(
      execFileSync(exe, ["keys", "create", "--scopes", "sites.site:read", "--json"], { cwd: project, env }).toString(),
    );
    const keyed = new Client({ name: "bver-mcp-test-key", version: "0.1.0" });
    await keyed.connect(
      new StdioClientTransport({
        command: exe, args: ["mcp"], cwd: project, env: { ...env, BVER_API_KEY: made.key }, stderr: "inherit",
      }),
    );
    try {
      await keyed.listTools();
      const got = await keyed.callTool({ name: "refs.site.get", arguments: { id: site.id } });
      assert.notEqual(got.isError, true, JSON.stringify(got));
      const denied = await keyed.callTool({ name: "refs.site.create", arguments: { body: { name: "South" } } });
      assert.equal(denied.isError, true);
      assert.equal(JSON.parse(denied.content[0].text).code, "permission_denied");
      const { resources } = await keyed.listResources();
      assert.ok(resources.every((r) => r.uri.startsWith("bver://sites/site/")), JSON.stringify(resources));
      assert.ok(resources.some((r) => r.uri === site.pointer));
    } finally {
      await keyed.close().catch(() => {});
    }
  });

  await step("BVER_API_KEY: a wrong key stops bver mcp with an error", async () => {
    let code = 0;
    try {
      execFileSync(exe, ["mcp"], { cwd: project, env: { ...env, BVER_API_KEY: "bver_nope_nope" }, input: "", stdio: "pipe" });
    } catch (e) {
      code = e.status;
    }
    assert.notEqual(code, 0);
  });
} catch (e) {
  failed = true;
  console.log(`FAIL ${e && e.stack ? e.stack : e}`);
} finally {
  await client.close().catch(() => {});
  fs.rmSync(project, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
