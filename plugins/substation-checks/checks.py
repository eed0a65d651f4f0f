"""substation-checks: the "standards sanity check" validator (exec plugin).

Reads one request on stdin (docs/plugins.md), writes one response on stdout.
The site comes in `resolved` (keyed by the pointer given as input.site), its
assets in `related` (the references that point at the site). Checks:

  breaker.interrupting_rating   a breaker's interrupting rating is at least
                                the site's fault level (fault_level_ka)
  transformer.winding_voltage   each transformer terminal connects to a
                                busbar whose voltage is the matching winding
                                voltage (hv terminal: the first winding, ...)
  asset.one_site                every asset names exactly one site, this one,
                                and is wired only to assets of this site

Findings point at the pinned asset and the attribute at fault
("bver://assets/asset/x~1@interrupting_rating_ka"). Standard library only.
"""
import json
import sys

TOLERANCE = 1e-6


def unpinned(pointer):
    """bver://ns/repo/id~3@path -> bver://ns/repo/id"""
    if not isinstance(pointer, str):
        return None
    head = pointer.split("@", 1)[0]
    return head.split("~", 1)[0]


def at(ref, path):
    return ref["pointer"] + ("@" + path if path else "")


class Checker:
    def __init__(self, request):
        self.findings = []
        inp = request.get("input") or {}
        self.site_pointer = inp.get("site")
        if not isinstance(self.site_pointer, str):
            raise ValueError("input.site must be a pointer to the site")
        self.site_ref = unpinned(self.site_pointer)
        resolved = request.get("resolved") or {}
        self.site = resolved.get(self.site_pointer)
        if self.site is None:
            for ref in resolved.values():
                if unpinned(ref.get("pointer")) == self.site_ref:
                    self.site = ref
        if self.site is None:
            raise LookupError("the site %s was not resolved for this job" % self.site_pointer)
        # Assets pointing at the site, by unpinned pointer; an asset listed
        # under several keys of `related` is seen once per key.
        self.assets = {}
        self.seen_under = {}
        for key, refs in (request.get("related") or {}).items():
            for ref in refs or []:
                p = unpinned(ref.get("pointer"))
                if p is None or not p.startswith("bver://assets/asset/"):
                    continue
                self.assets.setdefault(p, ref)
                self.seen_under.setdefault(p, set()).add(unpinned(key))

    def add(self, severity, pointer, rule, message):
        self.findings.append({"severity": severity, "pointer": pointer, "rule": rule, "message": message})

    def run(self):
        fault = (self.site.get("body") or {}).get("fault_level_ka")
        for p in sorted(self.assets):
            ref = self.assets[p]
            body = ref.get("body") or {}
            self.check_site(p, ref, body)
            kind = ref.get("kind")
            if kind == "breaker":
                self.check_breaker(ref, body, fault)
            elif kind == "transformer":
                self.check_transformer(ref, body)
        if not self.assets:
            self.add("info", self.site["pointer"], "site.empty", "the site has no assets yet")
        passed = not any(f["severity"] == "error" for f in self.findings)
        return {"passed": passed, "findings": self.findings}

    def check_site(self, p, ref, body):
        site = unpinned(body.get("site"))
        if site is None:
            self.add("error", at(ref, "site"), "asset.one_site", "the asset names no site")
        elif site != self.site_ref:
            self.add("error", at(ref, "site"), "asset.one_site",
                     "the asset belongs to %s but is listed with %s" % (site, self.site_ref))
        if len(self.seen_under.get(p, ())) > 1:
            self.add("error", at(ref, ""), "asset.one_site",
                     "the asset is related to more than one site: %s" % ", ".join(sorted(self.seen_under[p])))
        for i, t in enumerate(body.get("terminals") or []):
            target = unpinned(t.get("connects_to"))
            if target is None:
                continue
            other = self.assets.get(target)
            if other is None:
                self.add("warning", at(ref, "terminals[%d].connects_to" % i), "asset.one_site",
                         "connects to %s, which is not an asset of %s" % (target, self.site_ref))

    def check_breaker(self, ref, body, fault):
        rating = body.get("interrupting_rating_ka")
        if rating is None:
            self.add("warning", at(ref, ""), "breaker.interrupting_rating", "the breaker has no interrupting rating")
        elif isinstance(fault, (int, float)) and rating + TOLERANCE < fault:
            self.add("error", at(ref, "interrupting_rating_ka"), "breaker.interrupting_rating",
                     "interrupting rating %g kA is below the site's fault level of %g kA" % (rating, fault))

    def check_transformer(self, ref, body):
        windings = body.get("winding_voltages_kv") or []
        for i, t in enumerate(body.get("terminals") or []):
            if i >= len(windings):
                self.add("error", at(ref, "terminals[%d]" % i), "transformer.winding_voltage",
                         "terminal %s has no matching winding voltage" % t.get("label", i))
                continue
            bus = self.assets.get(unpinned(t.get("connects_to")))
            if bus is None or bus.get("kind") != "busbar":
                continue
            bus_kv = (bus.get("body") or {}).get("voltage_kv")
            if isinstance(bus_kv, (int, float)) and abs(bus_kv - windings[i]) > TOLERANCE:
                self.add("error", at(ref, "winding_voltages_kv"), "transformer.winding_voltage",
                         "winding %d is %g kV but terminal %s connects to busbar %s at %g kV"
                         % (i + 1, windings[i], t.get("label", i), unpinned(bus["pointer"]), bus_kv))


def main():
    try:
        request = json.load(sys.stdin)
    except ValueError as e:
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "invalid_argument", "message": "bad request: %s" % e}}))
        return
    if request.get("capability") != "substation.sanity":
        sys.stdout.write(json.dumps({"ok": False, "error": {
            "code": "not_found", "message": "substation-checks provides only substation.sanity"}}))
        return
    try:
        output = Checker(request).run()
    except LookupError as e:
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "failed_precondition", "message": str(e)}}))
        return
    except ValueError as e:
        sys.stdout.write(json.dumps({"ok": False, "error": {"code": "invalid_argument", "message": str(e)}}))
        return
    sys.stdout.write(json.dumps({"ok": True, "output": output}))


if __name__ == "__main__":
    main()
