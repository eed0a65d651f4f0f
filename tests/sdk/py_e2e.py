"""Drives a real bver up with the generated Python SDK (standard library only):
python3 py_e2e.py SDK_DIR BASE_URL"""
import sys

sys.path.insert(0, sys.argv[1])
import bver_client  # noqa: E402
from bver_client import BverError, Client, parse_pointer  # noqa: E402

bver = Client(sys.argv[2])
failed = False


def step(name, fn):
    global failed
    try:
        fn()
        print("ok   " + name)
    except Exception as e:  # noqa: BLE001 - the test reports every failure
        import traceback
        print("FAIL " + name + ": " + "".join(traceback.format_exception(e)))
        failed = True


def problem(fn):
    try:
        fn()
    except BverError as e:
        return e
    raise AssertionError("the call succeeded")


def create():
    s = bver.refs_site_create({"id": "py1", "kind": "telecom.node", "body": {"name": "Py 1"}})
    assert s["pointer"] == "bver://sites/site/py1~1", s
    assert parse_pointer(s["pointer"])["version"] == 1


def patch():
    p = bver.refs_site_patch({"id": "py1", "merge": {"operator": "acme"}, "expected_version": 1})
    assert p["version"] == 2 and p["body"]["operator"] == "acme", p


def stale():
    e = problem(lambda: bver.refs_site_patch({"id": "py1", "merge": {"operator": "late"}, "expected_version": 1}))
    assert e.status == 412 and e.code == "failed_precondition", e.problem


def missing():
    e = problem(lambda: bver.refs_site_get({"id": "nobody"}))
    assert e.status == 404 and e.code == "not_found", e.problem


def paging():
    for i in ("py2", "py3"):
        bver.refs_site_create({"id": i, "kind": "telecom.node", "body": {"name": i}})
    ids, cursor = [], None
    for _ in range(20):
        page = bver.refs_site_list({"limit": 1, **({"cursor": cursor} if cursor else {})})
        ids += [r["id"] for r in page["items"]]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert sorted(i for i in ids if i.startswith("py")) == ["py1", "py2", "py3"], ids


def job():
    # A telecom node: a power.substation would start design_site, racing the check.
    bver.refs_site_create({"id": "pyn", "kind": "telecom.node", "body": {"name": "Py North"}})
    job = bver.jobs_sanity_start({"input": {"site": "bver://sites/site/pyn"}, "wait": 30})
    assert job["state"] == "succeeded", job
    assert isinstance(job["result"]["passed"], bool)


def types():
    # The typed dicts exist per operation, with the schema's field types.
    hints = bver_client.RefsSiteCreateInput.__annotations__
    assert "body" in hints and "kind" in hints, hints
    assert "from" in bver_client.RefsSiteDiffInput.__annotations__


for name, fn in [("create", create), ("patch with the expected version", patch), ("a stale version is a typed 412", stale),
                 ("a missing reference is a typed 404", missing), ("list with paging", paging),
                 ("a job with wait", job), ("typed inputs", types)]:
    step(name, fn)
print("py sdk test: FAILED" if failed else "py sdk test: all steps passed")
sys.exit(1 if failed else 0)
