package zdd

import (
	"context"
	"strings"
	"testing"
)

const goodDef = `{"id":"/web","instances":3,"labels":{"HAPROXY_DEPLOYMENT_GROUP":"web","HAPROXY_DEPLOYMENT_ALT_PORT":"10001"},
"portDefinitions":[{"port":10000}]}`

func TestParseDefinition(t *testing.T) {
	d, err := parseDefinition([]byte(goodDef))
	if err != nil {
		t.Fatal(err)
	}
	if d.id != "/web" || d.group != "web" || d.alt != 10001 || d.port != 10000 || d.instances != 3 {
		t.Fatalf("%+v", d)
	}
	d, err = parseDefinition([]byte(`{"id":"/b","labels":{"HAPROXY_DEPLOYMENT_GROUP":"b","HAPROXY_DEPLOYMENT_ALT_PORT":"2"},
		"container":{"docker":{"portMappings":[{"containerPort":80,"servicePort":1}]}}}`))
	if err != nil || d.port != 1 || d.instances != 1 {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestParseDefinitionBadInput(t *testing.T) {
	for _, tc := range []struct{ name, def, field string }{
		{"not json", `{`, "app definition"},
		{"array", `[]`, "app definition"},
		{"null", `null`, "not a JSON object"},
		{"no id", `{"labels":{}}`, "id"},
		{"labels not object", `{"id":"/a","labels":[]}`, "labels"},
		{"label not string", `{"id":"/a","labels":{"X":1}}`, "labels.X"},
		{"no group", `{"id":"/a","labels":{}}`, "HAPROXY_DEPLOYMENT_GROUP"},
		{"bad alt", `{"id":"/a","labels":{"HAPROXY_DEPLOYMENT_GROUP":"a","HAPROXY_DEPLOYMENT_ALT_PORT":"x"}}`, "HAPROXY_DEPLOYMENT_ALT_PORT"},
		{"alt out of range", `{"id":"/a","labels":{"HAPROXY_DEPLOYMENT_GROUP":"a","HAPROXY_DEPLOYMENT_ALT_PORT":"70000"}}`, "HAPROXY_DEPLOYMENT_ALT_PORT"},
		{"no port", `{"id":"/a","labels":{"HAPROXY_DEPLOYMENT_GROUP":"a","HAPROXY_DEPLOYMENT_ALT_PORT":"1"}}`, "service port"},
		{"bad instances", strings.Replace(goodDef, `"instances":3`, `"instances":"3"`, 1), "instances"},
	} {
		_, err := parseDefinition([]byte(tc.def))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v, want an error naming %q", tc.name, err, tc.field)
		}
	}
	// Deploy refuses a bad definition before it talks to Marathon.
	if err := Deploy(context.Background(), []byte(`{}`), Options{Marathon: "http://127.0.0.1:1"}); err == nil {
		t.Fatal("a definition without an id was deployed")
	}
}

const csvBody = "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,\n" +
	"web_10000,FRONTEND,,,0,0,,0,0,0,0,0,0,,,,,OPEN,\n" +
	"web_10000,127_0_0_1_31000,0,0,0,1,,5,0,0,,0,,0,0,0,0,MAINT,\n" +
	"web_10000,127_0_0_1_31001,0,0,2,2,,5,0,0,,0,,0,0,0,0,UP,\n" +
	"other_1,127_0_0_1_31002,0,0,0,0,,0,0,0,,0,,0,0,0,0,UP,\n" +
	"web_10000,BACKEND,0,0,2,2,,10,0,0,0,0,,0,0,0,0,UP,\n"

func TestParseCSV(t *testing.T) {
	rows, err := parseCSV(csvBody, "web_10000")
	if err != nil || len(rows) != 2 || rows[0].status != "MAINT" || rows[1].scur != 2 {
		t.Fatalf("%+v %v", rows, err)
	}
	drained := task{Host: "127.0.0.1", Ports: []int{31000}}
	busy := task{Host: "127.0.0.1", Ports: []int{31001}}
	isDrained := func(r row) bool { return r.status == "MAINT" && r.qcur == 0 && r.scur == 0 }
	if !everyEdge([][]row{rows, rows}, drained, isDrained) || everyEdge([][]row{rows}, busy, isDrained) {
		t.Fatal("drained tasks misjudged")
	}
	if everyEdge([][]row{rows, nil}, drained, isDrained) {
		t.Fatal("a task one edge does not list counts as drained")
	}
	for _, bad := range []string{"", "# a,b\n", "# pxname,svname,status,qcur\n\"x\n"} {
		if _, err := parseCSV(bad, "web_10000"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseDefinition(f *testing.F) {
	f.Add([]byte(goodDef))
	f.Add([]byte(`{"id":"/a","container":{"portMappings":[{"servicePort":1e400}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseDefinition(b); err == nil && (d.id == "" || d.group == "" || d.alt <= 0) {
			t.Fatalf("accepted %q as %+v", b, d)
		}
	})
}

func FuzzParseCSV(f *testing.F) {
	f.Add(csvBody)
	f.Fuzz(func(t *testing.T, s string) {
		rows, err := parseCSV(s, "web_10000")
		if err == nil {
			for _, r := range rows {
				if r.svname == "FRONTEND" || r.svname == "BACKEND" {
					t.Fatal("a proxy row counted as a server")
				}
			}
		}
	})
}
