#!/usr/bin/env node
// A subscriber of the substation example: keeps an index of every
// Document's metadata (title, media type, site, artifact digest, meta) in a
// JSON file, fed by a durable consumer of the event log (docs/events.md).
//
//   node doc_indexer.mjs [--url http://127.0.0.1:8080] [--index docs-index.json] [--once]
//
// It creates the consumer "doc-indexer" (documents only, from offset 1, so
// a new index covers every document ever written), then fetches, indexes
// and acks in a loop. Killed between fetch and ack, it gets the same events
// again after the ack timeout: at-least-once, and indexing is idempotent
// (the index keeps the newest version of each document). --once stops when
// the consumer has caught up. Needs Node 18+ (fetch); BVER_API_KEY is sent
// as X-API-Key when set.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const base = opt('--url', process.env.BVER_URL ?? 'http://127.0.0.1:8080');
const indexPath = opt('--index', 'docs-index.json');
const once = args.includes('--once');
const consumer = 'doc-indexer';
const headers = { 'Content-Type': 'application/json' };
if (process.env.BVER_API_KEY) headers['X-API-Key'] = process.env.BVER_API_KEY;

async function call(method, path, body) {
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const json = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.detail ?? text}`);
  return json;
}

function load() {
  try {
    return JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch {
    return { documents: {}, offset: 0 };
  }
}

// Written whole to a temporary file, then renamed: a reader never sees half.
function save(index) {
  writeFileSync(indexPath + '.tmp', JSON.stringify(index, null, 2));
  renameSync(indexPath + '.tmp', indexPath);
}

// bver://documents/document/<id>~<version> -> [id, version]
function parse(pointer) {
  const m = /^bver:\/\/documents\/document\/([^~@]+)~(\d+)$/.exec(pointer ?? '');
  return m ? [decodeURIComponent(m[1]), Number(m[2])] : null;
}

async function main() {
  await call('POST', '/v1/events/consumers', {
    name: consumer,
    from: 1,
    ack_timeout_ms: 10000,
    filter: { channels: ['traffic'], event_types: ['ref.*'], pointer_prefix: 'bver://documents/document/' },
  });
  const index = load();
  for (;;) {
    const got = await call('POST', `/v1/events/consumers/${consumer}/fetch?max=100&wait_ms=${once ? 0 : 5000}`);
    if (got.events.length === 0) {
      if (once) return;
      continue;
    }
    for (const { event } of got.events) {
      const at = parse(event.object_pointer);
      if (!at) continue;
      const [id, version] = at;
      const known = index.documents[id];
      if (known && known.version >= version) continue; // a redelivery, or an older version
      if (event.event_type === 'ref.deleted') {
        index.documents[id] = { version, deleted: true };
        continue;
      }
      const doc = await call('GET', `/v1/refs/documents/document/${encodeURIComponent(id)}/versions/${version}`);
      const body = doc.body ?? {};
      index.documents[id] = {
        version,
        kind: doc.kind ?? null,
        title: body.title,
        media_type: body.media_type ?? null,
        site: body.site ?? null,
        artifact: body.artifact,
        meta: body.meta ?? {},
      };
    }
    index.offset = Math.max(index.offset, ...got.events.map((d) => d.offset));
    save(index); // before the ack: a crash in between only repeats work
    await call('POST', `/v1/events/consumers/${consumer}/ack?` + got.events.map((d) => `offsets=${d.offset}`).join('&'));
  }
}

main().catch((e) => {
  console.error(`doc_indexer: ${e.message}`);
  process.exit(1);
});
