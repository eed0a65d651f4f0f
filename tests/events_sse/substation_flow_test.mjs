// The substation example end to end (issue 6's "done when"): a real `bver
// up` with the example's two plugins installed; an SSE subscriber (the
// `eventsource` npm client, tests/events_sse/node_modules) on GET
// /v1/events/stream; a Site of kind power.substation created over REST.
// The trigger new_substation starts the orchestrator design_site, which
// generates the skeleton, validates it and marks the site ready; the
// subscriber must see every event of the log, in order, none twice. Then:
// resuming with Last-Event-ID, a durable consumer over SSE, the example's
// Document indexer (examples/substation/subscribers/doc_indexer.mjs), and
// bad stream parameters.
//
// Run by CTest: node tests/events_sse/substation_flow_test.mjs BVER_EXE STARTER_PLUGIN_DIR
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { EventSource } from "eventsource";

import { startServer, stopServer } from "../mcp/serve.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, "..", "..");
const exe = process.argv[2] && path.resolve(process.argv[2]);
const starter = process.argv[3] && path.resolve(process.argv[3]);
assert.ok(exe && fs.existsSync(exe), `usage: node substation_flow_test.mjs BVER_EXE STARTER_PLUGIN_DIR (got ${exe})`);
assert.ok(starter && fs.existsSync(path.join(starter, "bver_plugin.yaml")), `no built plugin at ${starter}`);

const project = fs.mkdtempSync(path.join(os.tmpdir(), "bver-sse-"));
fs.copyFileSync(path.join(root, "examples", "substation", "bver.yaml"), path.join(project, "bver.yaml"));
const env = { ...process.env };
delete env.BVER_API_KEY;
delete env.BVER_STORE;
const bver = (...args) => execFileSync(exe, ["-C", project, ...args], { env, encoding: "utf8" });
bver("plugins", "install", "--replace", starter);
bver("plugins", "install", "--replace", path.join(root, "plugins", "substation-checks"));

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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

// An SSE subscription collecting {id, type, data} in arrival order.
function subscribe(url, headers = {}) {
  const frames = [];
  const errors = [];
  const es = new EventSource(url, {
    fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, ...headers } }),
  });
  const onMessage = (ev) => frames.push({ id: Number(ev.lastEventId), type: ev.type, data: JSON.parse(ev.data) });
  // Named events (event: ref.created) need a listener per name; wrap dispatch.
  const dispatch = es.dispatchEvent.bind(es);
  es.dispatchEvent = (ev) => {
    if (ev.data !== undefined && ev.type !== "error" && ev.type !== "open") onMessage(ev);
    return dispatch(ev);
  };
  es.addEventListener("error", (e) => errors.push(e));
  const opened = new Promise((resolve, reject) => {
    es.addEventListener("open", resolve, { once: true });
    setTimeout(() => reject(new Error("the stream did not open")), 15000);
  });
  return { es, frames, errors, opened };
}

const server = await startServer(exe, project, env);
const base = server.url;
async function api(method, p, body, headers = {}) {
  const res = await fetch(base + p, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
async function log(from) {
  const out = [];
  for (let next = from; ; ) {
    const r = await api("GET", `/v1/events?from=${next}&limit=1000`);
    assert.equal(r.status, 200, r.text);
    if (r.json.events.length === 0) return out;
    out.push(...r.json.events);
    next = r.json.events.at(-1).offset + 1;
  }
}

try {
  const live = subscribe(`${base}/v1/events/stream`);
  let lastSeen = 0;

  await step("creating a substation site runs design_site to completion; SSE sees every event in order", async () => {
    await live.opened;
    const created = await api("POST", "/v1/refs/sites/site?kind=power.substation&id=north", {
      name: "North",
      voltage_levels_kv: [132, 33],
      fault_level_ka: 25,
    });
    assert.equal(created.status, 201, created.text);
    // The orchestrator's last step marks the site ready.
    const site = await until("the site to be ready", async () => {
      const r = await api("GET", "/v1/refs/sites/site/north");
      return r.json?.body?.status === "ready" ? r.json : null;
    }, 120000);
    assert.equal(site.body.status, "ready");
    // Its run ends with orch.succeeded; wait for the stream to reach it.
    await until("orch.succeeded on the stream", async () => live.frames.some((f) => f.type === "orch.succeeded"));
    const first = live.frames[0].id;
    const everything = await log(first);
    await until("the stream to catch up with the log", async () => live.frames.at(-1).id >= everything.at(-1).offset);
    const seen = live.frames.filter((f) => f.id <= everything.at(-1).offset);
    assert.deepEqual(seen.map((f) => f.id), everything.map((e) => e.offset), "every offset, in order, none twice");
    assert.deepEqual(seen.map((f) => f.data.event_id), everything.map((e) => e.event_id));
    for (const f of seen) assert.equal(f.type, f.data.event_type);
    const types = seen.map((f) => f.type);
    assert.equal(seen[0].data.object_pointer, "bver://sites/site/north~1");
    assert.equal(types[0], "ref.created");
    for (const t of ["orch.started", "job.succeeded", "orch.succeeded", "ref.patched"]) {
      assert.ok(types.includes(t), `${t} among ${types.join(", ")}`);
    }
    // The skeleton's assets are there, created by the generator.
    assert.ok(seen.some((f) => f.type === "ref.created" && f.data.object_pointer.startsWith("bver://assets/asset/")));
    assert.ok(types.indexOf("ref.patched") > types.lastIndexOf("job.succeeded"), "ready only after validation");
    lastSeen = seen.at(-1).id;
  });
  live.es.close();

  await step("a new stream with Last-Event-ID resumes right after it, nothing lost or repeated", async () => {
    await api("POST", "/v1/refs/sites/site?kind=telecom.node&id=t1", { name: "T1" });
    await api("PATCH", "/v1/refs/sites/site/t1", { name: "T1b" }, { "Content-Type": "application/merge-patch+json" });
    const resumed = subscribe(`${base}/v1/events/stream`, { "Last-Event-ID": String(lastSeen) });
    await resumed.opened;
    const expected = await log(lastSeen + 1);
    assert.ok(expected.length >= 2);
    await until("the backlog", async () => resumed.frames.length >= expected.length);
    assert.deepEqual(resumed.frames.slice(0, expected.length).map((f) => f.id), expected.map((e) => e.offset));
    resumed.es.close();
  });

  await step("filters: only ref.patched of sites", async () => {
    const only = subscribe(`${base}/v1/events/stream?from=1&event_type=ref.patched&pointer_prefix=bver://sites/site/`);
    await only.opened;
    await until("two patches", async () => only.frames.length >= 2);
    await sleep(300);
    assert.ok(only.frames.every((f) => f.type === "ref.patched" && f.data.object_pointer.startsWith("bver://sites/site/")));
    assert.deepEqual(only.frames.map((f) => f.data.object_pointer), ["bver://sites/site/north~2", "bver://sites/site/t1~2"]);
    only.es.close();
  });

  await step("a durable consumer over SSE: acked as written, the cursor kept by the server", async () => {
    const c = await api("POST", "/v1/events/consumers", { name: "sse-sites", from: 1, filter: { pointer_prefix: "bver://sites/site/" } });
    assert.equal(c.status, 200, c.text);
    const sub = subscribe(`${base}/v1/events/stream?consumer=sse-sites`);
    await sub.opened;
    await until("4 site events", async () => sub.frames.length >= 4);
    sub.es.close();
    const state = await until("the acks", async () => {
      const r = await api("GET", "/v1/events/consumers/sse-sites");
      return r.json.pending === 0 && r.json.acked >= 4 ? r.json : null;
    });
    assert.equal(state.lag, 0);
    // A new connection continues from the cursor: nothing again.
    await api("PATCH", "/v1/refs/sites/site/t1", { name: "T1c" }, { "Content-Type": "application/merge-patch+json" });
    const again = subscribe(`${base}/v1/events/stream?consumer=sse-sites`);
    await again.opened;
    await until("the new patch", async () => again.frames.length >= 1);
    await sleep(300);
    assert.deepEqual(again.frames.map((f) => f.data.object_pointer), ["bver://sites/site/t1~3"]);
    again.es.close();
  });

  await step("the example's document indexer indexes Document metadata through a durable consumer", async () => {
    const content = "one-line diagram, sheet 1";
    const put = await fetch(`${base}/v1/artifacts`, { method: "PUT", body: content });
    assert.ok(put.status === 201 || put.status === 200);
    const digest = (await put.json()).digest;
    const doc = await api("POST", "/v1/refs/documents/document?kind=one_line&id=sld-north", {
      title: "North SLD",
      artifact: digest,
      media_type: "application/pdf",
      site: "bver://sites/site/north",
      sheet: 1,
      meta: { owner: "design" },
    });
    assert.equal(doc.status, 201, doc.text);
    const index = path.join(project, "docs-index.json");
    const run = () =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(root, "examples", "substation", "subscribers", "doc_indexer.mjs"), "--url", base, "--index", index, "--once"], { stdio: ["ignore", "inherit", "inherit"] });
        child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`doc_indexer exited ${code}`))));
      });
    await run();
    const got = JSON.parse(fs.readFileSync(index, "utf8"));
    assert.deepEqual(got.documents["sld-north"], {
      version: 1,
      kind: "one_line",
      title: "North SLD",
      media_type: "application/pdf",
      site: "bver://sites/site/north",
      artifact: digest,
      meta: { owner: "design" },
    });
    await api("PATCH", "/v1/refs/documents/document/sld-north", { title: "North SLD rev B" }, { "Content-Type": "application/merge-patch+json" });
    await run();
    const next = JSON.parse(fs.readFileSync(index, "utf8"));
    assert.equal(next.documents["sld-north"].title, "North SLD rev B");
    assert.equal(next.documents["sld-north"].version, 2);
    const state = await api("GET", "/v1/events/consumers/doc-indexer");
    assert.equal(state.json.pending, 0);
    assert.equal(state.json.lag, 0);
  });

  await step("bad stream requests answer a problem and the server keeps serving", async () => {
    for (const [q, status, says] of [
      ["?from=abc", 400, "offset"],
      ["?colour=red", 400, "colour"],
      ["?heartbeat_ms=5", 400, "heartbeat_ms"],
      ["?consumer=nobody", 404, "nobody"],
      ["?consumer=sse-sites&from=3", 400, "consumer"],
    ]) {
      const r = await api("GET", `/v1/events/stream${q}`);
      assert.equal(r.status, status, `${q}: ${r.text}`);
      assert.match(r.headers.get("content-type"), /application\/problem\+json/);
      assert.ok(r.json.detail.includes(says), `${q}: ${r.json.detail}`);
    }
    const bad = await api("GET", "/v1/events/stream", undefined, { "Last-Event-ID": "-1" });
    assert.equal(bad.status, 400);
    const ok = await api("GET", "/v1/refs/sites/site/north");
    assert.equal(ok.status, 200);
  });
} finally {
  const code = await stopServer(server);
  if (code !== 0) {
    failed++;
    console.log(`FAIL bver up exited with ${code} on SIGTERM (open streams must not hold it)`);
  }
  fs.rmSync(project, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
