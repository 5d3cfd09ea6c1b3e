package edge

import (
	"context"
	"strconv"
	"strings"
)

// Generation is one configuration handed to an engine: the typed
// configuration and what marathon-lb would write for it. The 9090
// endpoints serve the text of the generation the engine runs (Current),
// so both engines answer /_haproxy_getconfig, /_haproxy_getvhostmap and
// /_haproxy_getappmap with marathon-lb's bodies.
type Generation struct {
	Config *Config
	// HAProxyCfg is haproxy.cfg as marathon-lb renders Config; DomainMap
	// and AppMap the bodies of domain2backend.map and app2backend.map
	// (empty without --haproxy-map).
	HAProxyCfg string
	DomainMap  string
	AppMap     string
	// Without, when set, regenerates the generation without the apps of
	// the given ids, as marathon-lb leaves out apps that HAProxy rejects
	// (spec §9.3); an engine that checks configurations uses it.
	Without func(appIDs []string) (*Generation, error)
}

// Engine runs generations: the HAProxy engine (edge/haproxy) with a real
// HAProxy, the native engine (edge/native) with Go listeners. An engine
// is safe for concurrent use.
type Engine interface {
	// Apply makes g the running configuration. When part of g cannot run
	// (HAProxy rejects a service), the engine runs g without the
	// offending services and reports them in Current().Config.Problems;
	// when none of it can, it returns an error and the previous
	// generation keeps serving. A generation equal to the running one
	// changes nothing.
	Apply(ctx context.Context, g *Generation) error
	// Reload re-validates and reloads the running generation without a
	// new one (/_mlb_signal/usr1: certificate files changed).
	Reload(ctx context.Context) error
	// Current is the generation serving now (nil before the first
	// successful Apply); after a failed Apply it is still the last good
	// one.
	Current() *Generation
	// Stats is one row per frontend, backend and server, the rows of
	// /haproxy?stats;csv.
	Stats() []StatRow
	// Pids are the engine's processes (/_haproxy_getpids): HAProxy's
	// master, current worker and draining old workers; the native engine
	// its own process.
	Pids() []int
	// Close stops serving and releases every listener and process.
	Close() error
}

// Stat types, the "type" column of HAProxy's CSV.
const (
	StatFrontend = 0
	StatBackend  = 1
	StatServer   = 2
)

// StatRow is one row of HAProxy's stats CSV. The typed fields are those
// zdd and the metrics read, and those a native engine can count; Raw, when
// it has one value per StatColumns entry, is the row as HAProxy wrote it
// and is served as it is.
type StatRow struct {
	PxName string
	// SvName is FRONTEND, BACKEND or the server's name.
	SvName string
	Type   int
	// Qcur/Qmax queued requests; Scur/Smax/Slim/Stot sessions.
	Qcur, Qmax             int64
	Scur, Smax, Slim, Stot int64
	Bin, Bout              int64
	Ereq, Econ, Eresp      int64
	// Status is OPEN (frontend), UP, DOWN, MAINT, "no check", ….
	Status string
	Weight int64
	Act    int64
	Bck    int64
	// Hrsp are the HTTP responses by class: 1xx…5xx, then other.
	Hrsp        [6]int64
	ReqTot      int64
	CheckStatus string
	Addr        string
	Mode        string
	Raw         []string
}

// StatColumns is the header of HAProxy 2.6's stats CSV, in order (the
// "# " prefix and the trailing comma are the writer's).
var StatColumns = strings.Split("pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,"+
	"wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"+
	"type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,"+
	"hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,"+
	"comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,"+
	"check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,"+
	"mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,"+
	"cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,"+
	"used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status", ",")

// Fields is the row with one value per StatColumns entry: Raw when it
// has them, else the typed fields in their columns and the rest empty.
func (r *StatRow) Fields() []string {
	if len(r.Raw) == len(StatColumns) {
		return r.Raw
	}
	f := make([]string, len(StatColumns))
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	set := map[string]string{
		"pxname": r.PxName, "svname": r.SvName, "qcur": i64(r.Qcur), "qmax": i64(r.Qmax),
		"scur": i64(r.Scur), "smax": i64(r.Smax), "stot": i64(r.Stot), "bin": i64(r.Bin), "bout": i64(r.Bout),
		"ereq": i64(r.Ereq), "econ": i64(r.Econ), "eresp": i64(r.Eresp), "status": r.Status,
		"type": strconv.Itoa(r.Type), "check_status": r.CheckStatus, "addr": r.Addr, "mode": r.Mode,
		"hrsp_1xx": i64(r.Hrsp[0]), "hrsp_2xx": i64(r.Hrsp[1]), "hrsp_3xx": i64(r.Hrsp[2]),
		"hrsp_4xx": i64(r.Hrsp[3]), "hrsp_5xx": i64(r.Hrsp[4]), "hrsp_other": i64(r.Hrsp[5]),
		"req_tot": i64(r.ReqTot),
	}
	if r.Slim > 0 {
		set["slim"] = i64(r.Slim)
	}
	if r.Type != StatFrontend {
		set["weight"], set["act"], set["bck"] = i64(r.Weight), i64(r.Act), i64(r.Bck)
	}
	for i, c := range StatColumns {
		f[i] = set[c]
	}
	return f
}
