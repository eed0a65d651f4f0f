// Drives a real bver up with the generated TypeScript SDK (compiled by tsc):
// node ts_e2e.mjs DIST/client.js BASE_URL
import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";

const [, , clientPath, baseUrl] = process.argv;
const { Client, BverError, parsePointer } = await import(pathToFileURL(clientPath).href);
const bver = new Client({ baseUrl });

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
    process.exitCode = 1;
  }
}

async function problem(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof BverError, `a BverError, not ${e}`);
    return e;
  }
  assert.fail("the call succeeded");
}

await step("create", async () => {
  const s = await bver.refsSiteCreate({ id: "ts1", kind: "telecom.node", body: { name: "TS 1" } });
  assert.equal(s.pointer, "bver://sites/site/ts1~1");
  assert.equal(s.ns, "sites");
  assert.equal(parsePointer(s.pointer).version, 1);
});
await step("patch with the expected version (If-Match)", async () => {
  const p = await bver.refsSitePatch({ id: "ts1", merge: { operator: "acme" }, expected_version: 1 });
  assert.equal(p.version, 2);
  assert.equal(p.body.operator, "acme");
});
await step("a stale version is a typed 412", async () => {
  const e = await problem(bver.refsSitePatch({ id: "ts1", merge: { operator: "late" }, expected_version: 1 }));
  assert.equal(e.status, 412);
  assert.equal(e.code, "failed_precondition");
});
await step("a missing reference is a typed 404", async () => {
  const e = await problem(bver.refsSiteGet({ id: "nobody" }));
  assert.equal(e.status, 404);
  assert.equal(e.code, "not_found");
  assert.ok(e.problem.correlation_id);
});
await step("bad input is a typed 400 with the path", async () => {
  const e = await problem(bver.refsSiteCreate({ body: { name: 7 } }));
  assert.equal(e.status, 400);
  assert.ok(e.problem.errors.some((x) => x.path === "body.name"), JSON.stringify(e.problem.errors));
});
await step("list with paging", async () => {
  for (const id of ["ts2", "ts3"]) await bver.refsSiteCreate({ id, kind: "telecom.node", body: { name: id } });
  const ids = [];
  let cursor;
  for (let i = 0; i < 10; i++) {
    const page = await bver.refsSiteList(cursor === undefined ? { limit: 1 } : { limit: 1, cursor });
    ids.push(...page.items.map((r) => r.id));
    if (page.next_cursor === undefined || page.next_cursor === null) break;
    cursor = page.next_cursor;
  }
  assert.deepEqual(ids.filter((id) => id.startsWith("ts")).sort(), ["ts1", "ts2", "ts3"]);
});
await step("a job with wait", async () => {
  // A telecom node: a power.substation would start the example's design_site
  // orchestrator, whose writes to the site race the check (a job conflict).
  await bver.refsSiteCreate({ id: "tsn", kind: "telecom.node", body: { name: "TS North" } });
  const job = await bver.jobsSanityStart({ input: { site: "bver://sites/site/tsn" }, wait: 30 });
  assert.equal(job.state, "succeeded", JSON.stringify(job));
  assert.equal(typeof job.result.passed, "boolean");
});
if (process.exitCode) console.log("ts sdk test: FAILED");
else console.log("ts sdk test: all steps passed");
