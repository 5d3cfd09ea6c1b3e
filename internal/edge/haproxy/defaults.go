package haproxy

import (
	"slices"
	"strings"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/pystr"
)

// ciphers is the "intermediate" cipher list of marathon-lb's HEAD.
const ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
	"ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-SHA256:" +
	"ECDHE-RSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES128-SHA256:" +
	"DHE-RSA-AES256-SHA256:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256:!aNULL:!MD5:!DSS"

// headGlobal and headStats surround the defaults' option lines. The
// column alignment of the defaults section is marathon-lb's, byte for
// byte (its tests' base_config).
const headGlobal = `global
  log /dev/log local0
  log /dev/log local1 notice
  spread-checks 5
  max-spread-checks 15000
  maxconn 50000
  tune.ssl.default-dh-param 2048
  ssl-default-bind-ciphers ` + ciphers + `
  ssl-default-bind-options no-sslv3 no-tlsv10 no-tls-tickets
  ssl-default-server-ciphers ` + ciphers + `
  ssl-default-server-options no-sslv3 no-tlsv10 no-tls-tickets
  stats socket /var/run/haproxy/socket expose-fd listeners
  server-state-file global
  server-state-base /var/state/haproxy/
  lua-load /marathon-lb/getpids.lua
  lua-load /marathon-lb/getconfig.lua
  lua-load /marathon-lb/getmaps.lua
  lua-load /marathon-lb/signalmlb.lua
defaults
  load-server-state-from-file global
  log               global
  retries                   3
  backlog               10000
  maxconn               10000
  timeout connect          3s
  timeout client          30s
  timeout server          30s
  timeout tunnel        3600s
  timeout http-keep-alive  1s
  timeout http-request    15s
  timeout queue           30s
  timeout tarpit          60s
`

const headStats = `listen stats
  bind 0.0.0.0:9090
  balance
  mode http
  stats enable
  http-request use-service prometheus-exporter if { path /metrics }
  monitor-uri /_haproxy_health_check
  acl getpid path /_haproxy_getpids
  http-request use-service lua.getpids if getpid
  acl getvhostmap path /_haproxy_getvhostmap
  http-request use-service lua.getvhostmap if getvhostmap
  acl getappmap path /_haproxy_getappmap
  http-request use-service lua.getappmap if getappmap
  acl getconfig path /_haproxy_getconfig
  http-request use-service lua.getconfig if getconfig

  acl signalmlbhup path /_mlb_signal/hup
  http-request use-service lua.signalmlbhup if signalmlbhup
  acl signalmlbusr1 path /_mlb_signal/usr1
  http-request use-service lua.signalmlbusr1 if signalmlbusr1
`

// DefaultGlobalOptions is HAPROXY_GLOBAL_DEFAULT_OPTIONS when unset.
const DefaultGlobalOptions = "redispatch,http-server-close,dontlognull"

// globalOptions renders HAPROXY_GLOBAL_DEFAULT_OPTIONS as marathon-lb
// does: one "option" line per comma-separated entry, trimmed, the lines
// de-duplicated and sorted (so the default reads dontlognull,
// http-server-close, redispatch).
func globalOptions(opts string) string {
	var lines []string
	for _, o := range strings.Split(opts, ",") {
		lines = append(lines, "  option            "+pystr.Strip(o)+"\n")
	}
	slices.Sort(lines)
	return strings.Join(slices.Compact(lines), "")
}

// defaults are marathon-lb's built-in templates (config.py), with
// globalOpts the HAPROXY_GLOBAL_DEFAULT_OPTIONS value.
func defaults(globalOpts string) map[edge.Template]string {
	return map[edge.Template]string{
		edge.Head:                  headGlobal + globalOptions(globalOpts) + headStats,
		edge.UserlistHead:          "\nuserlist user_{backend}\n  user {user} password {passwd}\n",
		edge.HTTPFrontendHead:      "\nfrontend marathon_http_in\n  bind *:80\n  mode http\n",
		edge.HTTPFrontendAppIDHead: "\nfrontend marathon_http_appid_in\n  bind *:9091\n  mode http\n",
		edge.HTTPSFrontendHead:     "\nfrontend marathon_https_in\n  bind *:443 ssl {sslCerts}\n  mode http\n",
		edge.HTTPSGroupedFrontendHead: "\nfrontend marathon_https_in\n  bind *:443\n  mode tcp\n" +
			"  tcp-request inspect-delay 5s\n  tcp-request content accept if { req_ssl_hello_type 1 }\n",
		edge.HTTPSGroupedVhostFrontendHead: "\nfrontend {name}\n  mode http\n" +
			"  bind abns@{name} accept-proxy ssl {sslCerts}{bindOpts}\n",
		edge.HTTPSGroupedVhostBackendHead: "\nbackend {name}\n  server loopback-for-tls abns@{name} send-proxy-v2\n",
		edge.HTTPSGroupedVhostFrontendACL: "  use_backend {backend} if {{ req_ssl_sni -i {host} }}\n",
		edge.FrontendHead:                 "\nfrontend {backend}\n  bind {bindAddr}:{servicePort}{sslCert}{bindOptions}\n  mode {mode}\n",
		edge.BackendHead:                  "\nbackend {backend}\n  balance {balance}\n  mode {mode}\n",
		edge.BackendRedirectHTTPToHTTPS:   "  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname}\n",
		edge.BackendRedirectHTTPToHTTPSWithPath: "  redirect scheme https code 301 if !{{ ssl_fc }} host_{cleanedUpHostname}" +
			" path_{backend}\n",
		edge.BackendHSTSOptions: `  rspadd  Strict-Transport-Security:\ max-age=15768000` + "\n",
		edge.HTTPFrontendACL: "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname}\n",
		edge.MapHTTPFrontendACL: "  use_backend %[req.hdr(host),lower,regsub(:.*$,,)," +
			"map({haproxy_dir}/domain2backend.map)]\n",
		edge.HTTPFrontendACLWithAuth: "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n" +
			"  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n" +
			"  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname}\n",
		edge.HTTPFrontendACLOnly: "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n",
		edge.MapHTTPFrontendACLOnly: "  use_backend %[req.hdr(host),lower,regsub(:.*$,,)," +
			"map({haproxy_dir}/domain2backend.map)]\n",
		edge.HTTPFrontendRoutingOnly: "  use_backend {backend} if host_{cleanedUpHostname}\n",
		edge.HTTPFrontendRoutingOnlyWithAuth: "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n" +
			"  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname}\n",
		edge.HTTPFrontendACLWithPath: "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n" +
			"  acl path_{backend} path_beg {path}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
		edge.HTTPFrontendACLWithAuthAndPath: "  acl host_{cleanedUpHostname} hdr(host) -i {hostname}\n" +
			"  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n" +
			"  acl path_{backend} path_beg {path}\n" +
			"  http-request auth realm \"{realm}\" if host_{cleanedUpHostname} path_{backend} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
		edge.HTTPFrontendACLOnlyWithPath: "  acl path_{backend} path_beg {path}\n",
		edge.HTTPFrontendACLOnlyWithPathAndAuth: "  acl path_{backend} path_beg {path}\n" +
			"  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n",
		edge.HTTPSFrontendACLOnlyWithPath:    "  acl path_{backend} path_beg {path}\n",
		edge.HTTPFrontendRoutingOnlyWithPath: "  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
		edge.HTTPFrontendRoutingOnlyWithPathAndAuth: "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname}" +
			" path_{backend} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
		edge.HTTPSFrontendRoutingOnlyWithPathAndAuth: "  http-request auth realm \"{realm}\" if host_{cleanedUpHostname}" +
			" path_{backend} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if host_{cleanedUpHostname} path_{backend}\n",
		edge.HTTPFrontendAppIDACL: "  acl app_{cleanedUpAppId} hdr(x-marathon-app-id) -i {appId}\n" +
			"  use_backend {backend} if app_{cleanedUpAppId}\n",
		edge.MapHTTPFrontendAppIDACL: "  use_backend %[req.hdr(x-marathon-app-id),lower," +
			"map({haproxy_dir}/app2backend.map)]\n",
		edge.HTTPSFrontendACL:    "  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n",
		edge.MapHTTPSFrontendACL: "  use_backend %[ssl_fc_sni,lower,map({haproxy_dir}/domain2backend.map)]\n",
		edge.HTTPSFrontendACLWithAuth: "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n" +
			"  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if {{ ssl_fc_sni {hostname} }}\n",
		edge.HTTPSFrontendAuthACLOnly: "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n",
		edge.HTTPSFrontendAuthRequestOnly: "  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }}" +
			" !auth_{cleanedUpHostname}\n",
		edge.HTTPSFrontendACLWithPath: "  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n",
		edge.HTTPSFrontendACLWithAuthAndPath: "  acl auth_{cleanedUpHostname} http_auth(user_{backend})\n" +
			"  http-request auth realm \"{realm}\" if {{ ssl_fc_sni {hostname} }} path_{backend} !auth_{cleanedUpHostname}\n" +
			"  use_backend {backend} if {{ ssl_fc_sni {hostname} }} path_{backend}\n",
		edge.BackendHTTPOptions: "  option forwardfor\n  http-request set-header X-Forwarded-Port %[dst_port]\n" +
			"  http-request add-header X-Forwarded-Proto https if { ssl_fc }\n",
		edge.HTTPBackendProxypassGlue: "  http-request set-header Host {hostname}\n" +
			`  reqirep  "^([^ :]*)\ {proxypath}/?(.*)" "\1\ /\2"` + "\n",
		edge.HTTPBackendRevproxyGlue: "  acl hdr_location res.hdr(Location) -m found\n" +
			`  rspirep "^Location: (https?://{hostname}(:[0-9]+)?)?(/.*)" "Location:   {rootpath}" if hdr_location` + "\n",
		edge.HTTPBackendRedir: "  acl is_root path -i /\n  acl is_domain hdr(host) -i {hostname}\n" +
			"  redirect code 301 location {redirpath} if is_domain is_root\n",
		edge.BackendHTTPHealthcheckOptions: "  option  httpchk GET {healthCheckPath}\n" +
			"  timeout check {healthCheckTimeoutSeconds}s\n",
		edge.BackendTCPHealthcheckOptions: "",
		edge.BackendStickyOptions:         "  cookie mesosphere_server_id insert indirect nocache\n",
		edge.BackendServerOptions: "  server {serverName} {host_ipv4}:{port} id {serverId}{cookieOptions}" +
			"{healthCheckOptions}{otherOptions}\n",
		edge.BackendServerHTTPHealthcheckOptions: "  check inter {healthCheckIntervalSeconds}s fall {healthCheckFalls}" +
			"{healthCheckPortOptions}\n",
		edge.BackendServerTCPHealthcheckOptions: "  check inter {healthCheckIntervalSeconds}s fall {healthCheckFalls}" +
			"{healthCheckPortOptions}\n",
		edge.FrontendBackendGlue:          "  use_backend {backend}\n",
		edge.HTTPBackendNetworkAllowedACL: "  acl network_allowed src {network_allowed}\n",
		edge.HTTPBackendACLAllowDeny:      "  http-request allow if network_allowed\n  http-request deny\n",
		edge.TCPBackendNetworkAllowedACL:  "  acl network_allowed src {network_allowed}\n",
		edge.TCPBackendACLAllowDeny:       "  tcp-request content accept if network_allowed\n  tcp-request content reject\n",
	}
}

// modern are the defaults that use directives HAProxy 2.1 removed
// (reqirep, rspirep, rspadd; spec quirk 12), in their HAProxy ≥2.2 form
// with the same effect: Dialect HAProxy22.
func modern() map[edge.Template]string {
	return map[edge.Template]string{
		edge.BackendHSTSOptions: "  http-response set-header Strict-Transport-Security max-age=15768000\n",
		// reqirep rewrote the request line "METHOD <proxypath>/rest" to
		// "METHOD /rest"; replace-uri does it on the URI alone.
		edge.HTTPBackendProxypassGlue: "  http-request set-header Host {hostname}\n" +
			`  http-request replace-uri ^{proxypath}/?(.*) /\1` + "\n",
		// rspirep replaced a whole matching Location header by the root
		// path (the default template drops the matched path, a
		// marathon-lb quirk kept here).
		edge.HTTPBackendRevproxyGlue: "  acl hdr_location res.hdr(Location) -m found\n" +
			`  http-response replace-header Location ^(https?://{hostname}(:[0-9]+)?)?(/.*) {rootpath} if hdr_location` + "\n",
	}
}
