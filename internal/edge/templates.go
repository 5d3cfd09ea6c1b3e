package edge

// Template names one of marathon-lb's templates (without the HAPROXY_
// prefix); the texts live with the renderer, package edge/haproxy.
type Template string

// The template catalogue (spec §5.3).
const (
	Head                                    Template = "HEAD"
	UserlistHead                            Template = "USERLIST_HEAD"
	HTTPFrontendHead                        Template = "HTTP_FRONTEND_HEAD"
	HTTPFrontendAppIDHead                   Template = "HTTP_FRONTEND_APPID_HEAD"
	HTTPSFrontendHead                       Template = "HTTPS_FRONTEND_HEAD"
	HTTPSGroupedFrontendHead                Template = "HTTPS_GROUPED_FRONTEND_HEAD"
	HTTPSGroupedVhostFrontendHead           Template = "HTTPS_GROUPED_VHOST_FRONTEND_HEAD"
	HTTPSGroupedVhostBackendHead            Template = "HTTPS_GROUPED_VHOST_BACKEND_HEAD"
	HTTPSGroupedVhostFrontendACL            Template = "HTTPS_GROUPED_VHOST_FRONTEND_ACL"
	FrontendHead                            Template = "FRONTEND_HEAD"
	BackendHead                             Template = "BACKEND_HEAD"
	BackendRedirectHTTPToHTTPS              Template = "BACKEND_REDIRECT_HTTP_TO_HTTPS"
	BackendRedirectHTTPToHTTPSWithPath      Template = "BACKEND_REDIRECT_HTTP_TO_HTTPS_WITH_PATH"
	BackendHSTSOptions                      Template = "BACKEND_HSTS_OPTIONS"
	HTTPFrontendACL                         Template = "HTTP_FRONTEND_ACL"
	MapHTTPFrontendACL                      Template = "MAP_HTTP_FRONTEND_ACL"
	HTTPFrontendACLWithAuth                 Template = "HTTP_FRONTEND_ACL_WITH_AUTH"
	HTTPFrontendACLOnly                     Template = "HTTP_FRONTEND_ACL_ONLY"
	MapHTTPFrontendACLOnly                  Template = "MAP_HTTP_FRONTEND_ACL_ONLY"
	HTTPFrontendRoutingOnly                 Template = "HTTP_FRONTEND_ROUTING_ONLY"
	HTTPFrontendRoutingOnlyWithAuth         Template = "HTTP_FRONTEND_ROUTING_ONLY_WITH_AUTH"
	HTTPFrontendACLWithPath                 Template = "HTTP_FRONTEND_ACL_WITH_PATH"
	HTTPFrontendACLWithAuthAndPath          Template = "HTTP_FRONTEND_ACL_WITH_AUTH_AND_PATH"
	HTTPFrontendACLOnlyWithPath             Template = "HTTP_FRONTEND_ACL_ONLY_WITH_PATH"
	HTTPFrontendACLOnlyWithPathAndAuth      Template = "HTTP_FRONTEND_ACL_ONLY_WITH_PATH_AND_AUTH"
	HTTPSFrontendACLOnlyWithPath            Template = "HTTPS_FRONTEND_ACL_ONLY_WITH_PATH"
	HTTPFrontendRoutingOnlyWithPath         Template = "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH"
	HTTPFrontendRoutingOnlyWithPathAndAuth  Template = "HTTP_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH"
	HTTPSFrontendRoutingOnlyWithPathAndAuth Template = "HTTPS_FRONTEND_ROUTING_ONLY_WITH_PATH_AND_AUTH"
	HTTPFrontendAppIDACL                    Template = "HTTP_FRONTEND_APPID_ACL"
	MapHTTPFrontendAppIDACL                 Template = "MAP_HTTP_FRONTEND_APPID_ACL"
	HTTPSFrontendACL                        Template = "HTTPS_FRONTEND_ACL"
	MapHTTPSFrontendACL                     Template = "MAP_HTTPS_FRONTEND_ACL"
	HTTPSFrontendACLWithAuth                Template = "HTTPS_FRONTEND_ACL_WITH_AUTH"
	HTTPSFrontendAuthACLOnly                Template = "HTTPS_FRONTEND_AUTH_ACL_ONLY"
	HTTPSFrontendAuthRequestOnly            Template = "HTTPS_FRONTEND_AUTH_REQUEST_ONLY"
	HTTPSFrontendACLWithPath                Template = "HTTPS_FRONTEND_ACL_WITH_PATH"
	HTTPSFrontendACLWithAuthAndPath         Template = "HTTPS_FRONTEND_ACL_WITH_AUTH_AND_PATH"
	BackendHTTPOptions                      Template = "BACKEND_HTTP_OPTIONS"
	HTTPBackendProxypassGlue                Template = "HTTP_BACKEND_PROXYPASS_GLUE"
	HTTPBackendRevproxyGlue                 Template = "HTTP_BACKEND_REVPROXY_GLUE"
	HTTPBackendRedir                        Template = "HTTP_BACKEND_REDIR"
	BackendHTTPHealthcheckOptions           Template = "BACKEND_HTTP_HEALTHCHECK_OPTIONS"
	BackendTCPHealthcheckOptions            Template = "BACKEND_TCP_HEALTHCHECK_OPTIONS"
	BackendStickyOptions                    Template = "BACKEND_STICKY_OPTIONS"
	BackendServerOptions                    Template = "BACKEND_SERVER_OPTIONS"
	BackendServerHTTPHealthcheckOptions     Template = "BACKEND_SERVER_HTTP_HEALTHCHECK_OPTIONS"
	BackendServerTCPHealthcheckOptions      Template = "BACKEND_SERVER_TCP_HEALTHCHECK_OPTIONS"
	FrontendBackendGlue                     Template = "FRONTEND_BACKEND_GLUE"
	HTTPBackendNetworkAllowedACL            Template = "HTTP_BACKEND_NETWORK_ALLOWED_ACL"
	HTTPBackendACLAllowDeny                 Template = "HTTP_BACKEND_ACL_ALLOW_DENY"
	TCPBackendNetworkAllowedACL             Template = "TCP_BACKEND_NETWORK_ALLOWED_ACL"
	TCPBackendACLAllowDeny                  Template = "TCP_BACKEND_ACL_ALLOW_DENY"
)

// TemplateInfo says how marathon-lb uses a template.
type TemplateInfo struct {
	Name Template
	// Global templates cannot be overridden by an app label.
	Global bool
	// Literal templates are appended verbatim, never formatted, so their
	// braces are single ({ ssl_fc }).
	Literal bool
	// Label is the HAPROXY_{n}_<Label> label that overrides the template
	// for one service; the MAP_ variants are overridden by the label of
	// their non-map twin (marathon-lb reads HAPROXY_{n}_HTTP_FRONTEND_ACL
	// for MAP_HTTP_FRONTEND_ACL), and HTTP_BACKEND_REDIR by none because
	// its label is the redirect path.
	Label string
	// Trim: trimmed, then prefixed by one space unless empty (the
	// per-server health-check options).
	Trim bool
	// Unused templates are documented by marathon-lb but never rendered.
	Unused bool
}

// Templates lists the catalogue in marathon-lb's definition order.
func Templates() []TemplateInfo {
	g := func(n Template, literal bool) TemplateInfo {
		return TemplateInfo{Name: n, Global: true, Literal: literal}
	}
	a := func(n Template) TemplateInfo { return TemplateInfo{Name: n, Label: string(n)} }
	lit := func(n Template) TemplateInfo { return TemplateInfo{Name: n, Label: string(n), Literal: true} }
	m := func(n, twin Template) TemplateInfo { return TemplateInfo{Name: n, Label: string(twin)} }
	unused := func(n Template) TemplateInfo { return TemplateInfo{Name: n, Label: string(n), Unused: true} }
	trim := func(n Template) TemplateInfo { return TemplateInfo{Name: n, Label: string(n), Trim: true} }
	return []TemplateInfo{
		g(Head, true),
		a(UserlistHead),
		g(HTTPFrontendHead, true),
		g(HTTPFrontendAppIDHead, true),
		g(HTTPSFrontendHead, false),
		g(HTTPSGroupedFrontendHead, true),
		g(HTTPSGroupedVhostFrontendHead, false),
		g(HTTPSGroupedVhostBackendHead, false),
		g(HTTPSGroupedVhostFrontendACL, false),
		a(FrontendHead),
		a(BackendHead),
		a(BackendRedirectHTTPToHTTPS),
		a(BackendRedirectHTTPToHTTPSWithPath),
		lit(BackendHSTSOptions),
		a(HTTPFrontendACL),
		m(MapHTTPFrontendACL, HTTPFrontendACL),
		a(HTTPFrontendACLWithAuth),
		a(HTTPFrontendACLOnly),
		m(MapHTTPFrontendACLOnly, HTTPFrontendACLOnly),
		a(HTTPFrontendRoutingOnly),
		a(HTTPFrontendRoutingOnlyWithAuth),
		a(HTTPFrontendACLWithPath),
		a(HTTPFrontendACLWithAuthAndPath),
		a(HTTPFrontendACLOnlyWithPath),
		a(HTTPFrontendACLOnlyWithPathAndAuth),
		a(HTTPSFrontendACLOnlyWithPath),
		a(HTTPFrontendRoutingOnlyWithPath),
		a(HTTPFrontendRoutingOnlyWithPathAndAuth),
		unused(HTTPSFrontendRoutingOnlyWithPathAndAuth),
		a(HTTPFrontendAppIDACL),
		m(MapHTTPFrontendAppIDACL, HTTPFrontendAppIDACL),
		a(HTTPSFrontendACL),
		m(MapHTTPSFrontendACL, HTTPSFrontendACL),
		a(HTTPSFrontendACLWithAuth),
		unused(HTTPSFrontendAuthACLOnly),
		unused(HTTPSFrontendAuthRequestOnly),
		a(HTTPSFrontendACLWithPath),
		a(HTTPSFrontendACLWithAuthAndPath),
		lit(BackendHTTPOptions),
		a(HTTPBackendProxypassGlue),
		a(HTTPBackendRevproxyGlue),
		{Name: HTTPBackendRedir},
		a(BackendHTTPHealthcheckOptions),
		a(BackendTCPHealthcheckOptions),
		lit(BackendStickyOptions),
		a(BackendServerOptions),
		trim(BackendServerHTTPHealthcheckOptions),
		trim(BackendServerTCPHealthcheckOptions),
		a(FrontendBackendGlue),
		a(HTTPBackendNetworkAllowedACL),
		g(HTTPBackendACLAllowDeny, true),
		a(TCPBackendNetworkAllowedACL),
		g(TCPBackendACLAllowDeny, true),
	}
}

// Info returns the catalogue entry of t.
func (t Template) Info() (TemplateInfo, bool) {
	for _, i := range Templates() {
		if i.Name == t {
			return i, true
		}
	}
	return TemplateInfo{}, false
}
