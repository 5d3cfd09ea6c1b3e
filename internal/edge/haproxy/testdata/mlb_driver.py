"""Drive marathon-lb's config generator on saved /v2/apps bodies.

Sextant's side-by-side test (compare_test.go) runs this with the
directory of a marathon-lb checkout in MARATHON_LB_DIR. It reads a JSON
list of requests on stdin and writes a JSON list of results: for each,
haproxy.cfg and the two map bodies exactly as marathon-lb's
regenerate_config would produce them, or the exception marathon-lb
raised. No Marathon is contacted: get_apps is handed the apps of the
body, as marathon_lb.py's own tests do, and host names resolve from the
request's table instead of DNS.

Request fields: apps (path of a /v2/apps body), groups, bind_http_https,
ssl_certs, haproxy_map, group_https_by_vhost, health_check, strict_mode,
config_file, min_port, max_port, env (variables set while generating:
templates, HAPROXY_GLOBAL_DEFAULT_OPTIONS, FRAMEWORK_NAME),
templates_dir, hosts (host name -> IPv4).
"""

import ipaddress
import json
import logging
import os
import sys
import traceback

sys.path.insert(0, os.environ["MARATHON_LB_DIR"])

import config as mlb_config  # noqa: E402
import lrucache  # noqa: E402
import marathon_lb  # noqa: E402
import utils  # noqa: E402
from common import cleanup_json  # noqa: E402

logging.disable(logging.CRITICAL)


class FakeMarathon:
    def __init__(self, health_check, strict_mode):
        self._health_check = health_check
        self._strict_mode = strict_mode

    def health_check(self):
        return self._health_check

    def strict_mode(self):
        return self._strict_mode

    def list(self):
        return []


def resolver(hosts):
    def resolve_ip(host):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            return hosts.get(host, "")
    return resolve_ip


def run(req):
    saved = dict(os.environ)
    try:
        for k in list(os.environ):
            if k.startswith("HAPROXY_") or k == "FRAMEWORK_NAME":
                del os.environ[k]
        os.environ.update(req.get("env") or {})
        utils.resolve_ip = resolver(req.get("hosts") or {})
        assigner = utils.ServicePortAssigner()
        assigner.set_ports(req.get("min_port", 10050), req.get("max_port", 10100))
        marathon_lb.SERVICE_PORT_ASSIGNER = assigner
        marathon_lb.healthCheckResultCache = lrucache.LRUCache()
        templater = mlb_config.ConfigTemplater(
            directory=req.get("templates_dir") or "/nonexistent")
        with open(req["apps"]) as f:
            apps = cleanup_json(json.load(f))["apps"]
        marathon = FakeMarathon(req.get("health_check", True),
                                req.get("strict_mode", False))
        services = marathon_lb.get_apps(marathon, apps)
        domain_map, app_map = [], []
        haproxy_map = req.get("haproxy_map", False)
        cfg = marathon_lb.config(
            services, req["groups"], req.get("bind_http_https", True),
            req.get("ssl_certs"), templater, haproxy_map, domain_map,
            app_map, req.get("config_file", "/etc/haproxy/haproxy.cfg"),
            req.get("group_https_by_vhost", False))
        return {
            "config": cfg,
            "domain_map": marathon_lb.generateMapString(domain_map) if haproxy_map else "",
            "app_map": marathon_lb.generateMapString(app_map) if haproxy_map else "",
        }
    except Exception as e:
        return {"error": "%s: %s" % (type(e).__name__, e),
                "traceback": traceback.format_exc()}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    json.dump([run(r) for r in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
