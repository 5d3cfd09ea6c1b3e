package edgetest

import "testing"

func TestParseWrk(t *testing.T) {
	for _, c := range []struct {
		name, in      string
		total, failed int
		ok            bool
	}{
		{"clean", "  48715 requests in 4.90s, 11.19MB read\nRequests/sec:   9938.98\n", 48715, 0, true},
		{"errors", "  100 requests in 1.00s, 1MB read\n  Socket errors: connect 1, read 2, write 3, timeout 4\n" +
			"  Non-2xx or 3xx responses: 5\n", 100, 15, true},
		{"no report", "unable to connect to 127.0.0.1:1 Connection refused\n", 0, 0, false},
	} {
		total, failed, err := parseWrk(c.in)
		if (err == nil) != c.ok || total != c.total || failed != c.failed {
			t.Errorf("%s: %d, %d, %v", c.name, total, failed, err)
		}
	}
}
