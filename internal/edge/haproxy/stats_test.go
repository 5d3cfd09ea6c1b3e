package haproxy_test

import (
	"strings"
	"testing"

	"github.com/sextantdc/sextant/internal/edge"
	"github.com/sextantdc/sextant/internal/edge/haproxy"
)

// statHeader is HAProxy 2.6's "show stat" header, module columns included.
const statHeader = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n"

const statServer = "b,s1,0,0,2,5,,7,0,0,,0,,0,0,0,0,no check,1,1,0,,,2,,,1,2,1,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,0,0,0,,,,,,,,,,,,127.0.0.1:1,,http,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n"

func TestParseStats(t *testing.T) {
	rows, err := haproxy.ParseStats(statHeader + statServer + "\n")
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v %v", rows, err)
	}
	r := rows[0]
	if r.PxName != "b" || r.SvName != "s1" || r.Scur != 2 || r.Smax != 5 || r.Stot != 7 || r.Status != "no check" ||
		r.Type != edge.StatServer || r.Addr != "127.0.0.1:1" || len(r.Raw) != len(edge.StatColumns) {
		t.Fatalf("%+v", r)
	}
	if got := strings.Join(r.Fields(), ",") + ","; !strings.HasPrefix(statServer, got) {
		t.Fatalf("fields %q are not a prefix of the row", got)
	}
}

func TestParseStatsBadInput(t *testing.T) {
	for _, tc := range []struct{ name, in, err string }{
		{"empty", "", "header"},
		{"no header", statServer, "header"},
		{"no pxname", "# a,svname\nx,y\n", "pxname"},
		{"short row", statHeader + "b,s1,0\n" + statServer, "line 2"},
	} {
		rows, err := haproxy.ParseStats(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err %v, want one naming %q", tc.name, err, tc.err)
		}
		if tc.name == "short row" && len(rows) != 1 {
			t.Errorf("short row: %d rows, want the good one kept", len(rows))
		}
	}
}

func FuzzParseStats(f *testing.F) {
	f.Add(statHeader + statServer)
	f.Add("# pxname,svname,\n\"a,b\",c,\n")
	f.Fuzz(func(t *testing.T, s string) {
		rows, _ := haproxy.ParseStats(s)
		for i := range rows {
			if n := len(rows[i].Fields()); n != len(edge.StatColumns) {
				t.Fatalf("%d fields", n)
			}
		}
	})
}
