"""Test plugin: one way of misbehaving per capability (see bver_plugin.yaml)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time


def answer(output):
    sys.stdout.write(json.dumps({"ok": True, "output": output}))


def connect(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        return {"connected": 1}
    except OSError as e:
        return {"connected": 0, "errno": e.errno or 0}
    finally:
        s.close()


def main():
    request = json.load(sys.stdin)
    cap = request["capability"]
    inp = request["input"]
    if cap == "test.echo":
        answer({"metrics": {"input": inp, "env": dict(os.environ), "cwd": os.getcwd(),
                            "job": request["job"], "protocol": request["bver_plugin_protocol"]}})
    elif cap == "test.crash":
        sys.stderr.write("about to crash\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    elif cap == "test.hang":
        child = subprocess.Popen(["sleep", "60"])
        sys.stderr.write("grandchild %d\n" % child.pid)
        sys.stderr.flush()
        time.sleep(60)
    elif cap == "test.garbage":
        sys.stdout.write("this is not JSON <<<\x01>>>")
    elif cap == "test.refuse":
        sys.stdout.write(json.dumps({"ok": False, "error": {
            "code": "failed_precondition", "message": "the site has no voltage levels"}}))
    elif cap == "test.exit_nonzero":
        sys.stderr.write("something went wrong\nfatal: cannot continue\n")
        sys.exit(3)
    elif cap == "test.bad_output":
        answer({"passed": "yes", "findings": [{"severity": "fatal", "rule": "x"}]})
    elif cap == "test.outside_writes":
        answer({"changeset": {
            "creates": [{"repo": "assets/asset", "kind": "busbar", "id": "ok-1",
                         "body": {"name": "fine", "site": "bver://sites/site/s1"}},
                        {"repo": "sites/site", "id": "evil", "body": {"name": "not mine"}}],
            "patches": [{"pointer": "bver://sites/site/s1", "merge": {"status": "ready"}}],
            "deletes": []}})
    elif cap == "test.memory":
        hog = bytearray(1 << 30)
        answer({"metrics": {"allocated": len(hog)}})
    elif cap == "test.spin":
        while True:
            pass
    elif cap == "test.huge_output":
        sys.stdout.write('{"ok": true, "output": {"metrics": {"x": "' + "a" * (17 << 20) + '"}}}')
    elif cap in ("test.net_denied", "test.net_allowed"):
        answer({"metrics": connect(inp["port"])})
    else:
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "not_found", "message": cap}}))


main()
