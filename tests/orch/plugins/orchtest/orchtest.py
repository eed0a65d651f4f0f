"""Exec test plugin of the orchestrator tests (see bver_plugin.yaml)."""
import json
import sys
import time


def main():
    request = json.load(sys.stdin)
    inp = request["input"]
    if request["capability"] != "test.slow":
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "not_found", "message": request["capability"]}}))
        return
    time.sleep(float(inp.get("sleep_s", 0)))
    site = inp["site"]
    site_id = site[len("bver://sites/site/"):].split("~")[0]
    sys.stdout.write(json.dumps({"ok": True, "output": {"changeset": {"creates": [
        {"repo": "assets/asset", "id": site_id + "-slow", "body": {"name": "slow", "site": site}}]}}}))


main()
