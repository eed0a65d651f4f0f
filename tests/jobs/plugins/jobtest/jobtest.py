"""Exec test plugin of the job engine tests (see bver_plugin.yaml)."""
import json
import os
import signal
import sys
import time


def answer(output):
    sys.stdout.write(json.dumps({"ok": True, "output": output}))


def main():
    request = json.load(sys.stdin)
    cap = request["capability"]
    inp = request["input"]
    if cap == "test.sleep":
        time.sleep(float(inp.get("sleep_s", 0)))
        site = inp["site"]
        site_id = site[len("bver://sites/site/"):].split("~")[0]
        answer({"changeset": {"creates": [{"repo": "assets/asset", "id": site_id + "-slept",
                                           "body": {"name": "slept", "site": site}}]}})
    elif cap == "test.crash":
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif cap == "test.hang":
        time.sleep(60)
    elif cap == "test.garbage":
        sys.stdout.write("this is not JSON <<<")
    elif cap == "test.bad_output":
        answer({"passed": "yes", "findings": [{"severity": "fatal"}]})
    elif cap == "test.outside":
        answer({"changeset": {"creates": [{"repo": "other/thing", "id": "evil", "body": {"x": 1}}]}})
    elif cap == "test.memory":
        hog = bytearray(1 << 30)
        answer({"metrics": {"allocated": len(hog)}})
    else:
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "not_found", "message": cap}}))


main()
