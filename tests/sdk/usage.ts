// Compiled with tsc --strict against a generated SDK (tests/sdk_test.cc): the
// types are real -- a wrong kind or a wrong field type does not compile.
import { BverError, Client, parsePointer, type Pointer } from "./client.js";

export async function usage(c: Client): Promise<void> {
  const site = await c.refsSiteCreate({ body: { name: "North" }, kind: "telecom.node" });
  const version: number = site.version;
  const where: Pointer = site.pointer as Pointer;
  const repo: string = parsePointer(where).repo;
  const page = await c.refsSiteList({ limit: 10 });
  const first: string | undefined = page.items[0]?.id;
  // @ts-expect-error a kind bver.yaml does not declare
  await c.refsSiteCreate({ body: {}, kind: "no.such.kind" });
  // @ts-expect-error version is a number
  const wrong: string = site.version;
  // @ts-expect-error patch takes merge or json_patch, not a body
  await c.refsSitePatch({ id: "x", body: {} });
  try {
    await c.refsSiteGet({ id: "nobody" });
  } catch (e) {
    if (e instanceof BverError) {
      const code: string = e.code;
      const status: number = e.status;
      void code, status;
    }
  }
  void version, repo, first, wrong;
}
