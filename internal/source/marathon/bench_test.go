package marathon

import (
	"fmt"
	"strings"
	"testing"
)

// bigApps is an apps response of n bridge apps with 5 tasks each, shaped
// like Marathon 1.10's.
func bigApps(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"apps":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"/group/app-%d","version":"2024-01-01T00:00:00.000Z","instances":5,
"versionInfo":{"lastScalingAt":"2024-01-01T00:00:00.000Z","lastConfigChangeAt":"2024-01-01T00:00:00.000Z"},
"labels":{"HAPROXY_GROUP":"external","HAPROXY_0_VHOST":"app-%d.example.com"},
"container":{"type":"DOCKER","docker":{"image":"nginx","forcePullImage":false,"parameters":[],"privileged":false},"volumes":[],
 "portMappings":[{"containerPort":80,"hostPort":0,"labels":{"VIP_0":"/app-%d:80"},"name":"http","protocol":"tcp","servicePort":%d}]},
"networks":[{"mode":"container/bridge"}],"cmd":null,"cpus":0.1,"mem":64,"disk":0,"gpus":0,"requirePorts":false,
"healthChecks":[{"gracePeriodSeconds":300,"intervalSeconds":60,"maxConsecutiveFailures":3,"path":"/","portIndex":0,"protocol":"MESOS_HTTP","timeoutSeconds":20,"delaySeconds":15}],
"tasksStaged":0,"tasksRunning":5,"tasksHealthy":5,"tasksUnhealthy":0,"deployments":[],"tasks":[`, i, i, i, 10000+i%10000)
		for j := range 5 {
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"ipAddresses":[{"ipAddress":"172.17.%d.%d","protocol":"IPv4"}],"stagedAt":"2024-01-01T00:00:01.000Z",
"state":"TASK_RUNNING","ports":[%d],"startedAt":"2024-01-01T00:00:02.000Z","version":"2024-01-01T00:00:00.000Z",
"id":"group_app-%d.instance-%08d-0000-0000-0000-000000000000._app.1","appId":"/group/app-%d","slaveId":"agent-%d","host":"10.0.%d.%d",
"healthCheckResults":[{"alive":true,"consecutiveFailures":0,"firstSuccess":"2024-01-01T00:00:03.000Z","lastSuccess":"2024-01-01T00:01:03.000Z","lastFailure":null,"lastFailureCause":null,"instanceId":"x"}]}`,
				j, i%250, 31000+j, i, i*5+j, i, j, j, i%250)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func BenchmarkDecodeApps(b *testing.B) {
	body := bigApps(2000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		as, ps, err := decodeApps(body)
		if err != nil || len(as) != 2000 || len(ps) != 0 {
			b.Fatal(err, len(as), ps)
		}
	}
}
