package marathon

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func readAll(t *testing.T, r io.Reader, max int) []sseEvent {
	t.Helper()
	p := newSSEReader(r, max)
	var out []sseEvent
	for {
		ev, err := p.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v", err)
			}
			return out
		}
		out = append(out, ev)
	}
}

func TestSSEFraming(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []sseEvent
	}{
		{"crlf as Jetty writes it", "event: a\r\ndata: {\"x\":1}\r\n\r\n", []sseEvent{{Type: "a", Data: []byte(`{"x":1}`)}}},
		{"lf", "event: a\ndata: {}\n\n", []sseEvent{{Type: "a", Data: []byte(`{}`)}}},
		{"cr only", "event: a\rdata: {}\r\r", []sseEvent{{Type: "a", Data: []byte(`{}`)}}},
		{"heartbeats and comments are no events", "\r\n\r\n: ping\r\n\r\n\n\r", nil},
		{"heartbeat between events", "data: 1\r\n\r\n\r\n\r\ndata: 2\r\n\r\n", []sseEvent{{Data: []byte("1")}, {Data: []byte("2")}}},
		{"multi-line data", "data: {\"a\":\r\ndata: 1}\r\n\r\n", []sseEvent{{Data: []byte("{\"a\":\n1}")}}},
		{"no space after the colon", "event:t\ndata:x\n\n", []sseEvent{{Type: "t", Data: []byte("x")}}},
		{"only one space is stripped", "data:  x\n\n", []sseEvent{{Data: []byte(" x")}}},
		{"empty data line dispatches", "data\n\n", []sseEvent{{Data: []byte("")}}},
		{"id, retry and unknown fields are ignored", "id: 7\nretry: 10\nfoo: bar\ndata: x\n\n", []sseEvent{{Data: []byte("x")}}},
		{"event type without data is dropped", "event: a\n\ndata: x\n\n", []sseEvent{{Data: []byte("x")}}},
		{"unfinished event at the end is dropped", "data: x\n\ndata: y\n", []sseEvent{{Data: []byte("x")}}},
		{"mixed line ends", "data: a\r\ndata: b\ndata: c\r\r\n", []sseEvent{{Data: []byte("a\nb\nc")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Whole, and one byte at a time: a CR at the end of one read
			// and its LF in the next must not make an extra line.
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				got := readAll(t, r, 1<<20)
				for i := range got {
					if len(got[i].Data) == 0 {
						got[i].Data = []byte("")
					}
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %+v\nwant %+v", got, tc.want)
				}
			}
		})
	}
}

func TestSSETooLong(t *testing.T) {
	in := "data: " + strings.Repeat("x", 100) + "\r\n\r\ndata: ok\r\n\r\n" + "data: 12345678\r\ndata: 12345678\r\n\r\n"
	got := readAll(t, strings.NewReader(in), 14)
	if len(got) != 3 || !got[0].TooLong || got[1].TooLong || string(got[1].Data) != "ok" || !got[2].TooLong {
		t.Fatalf("%+v", got)
	}
}

func TestSSEFixture(t *testing.T) {
	lf := string(fixture(t, "marathon-docs-examples/events.txt"))
	crlf := strings.ReplaceAll(lf, "\n", "\r\n")
	for name, in := range map[string]string{"lf": lf, "crlf with heartbeats": strings.ReplaceAll(crlf, "\r\n\r\n", "\r\n\r\n\r\n")} {
		t.Run(name, func(t *testing.T) {
			evs := readAll(t, strings.NewReader(in), 1<<20)
			var types []string
			for _, ev := range evs {
				ts, ok := eventTypes(ev.Data)
				if !ok || len(ts) != 1 || ts[0] != ev.Type {
					t.Fatalf("event %q: %v %v", ev.Type, ts, ok)
				}
				types = append(types, ts...)
			}
			want := []string{"event_stream_attached", "status_update_event", "status_update_event"}
			if !reflect.DeepEqual(types, want) {
				t.Fatalf("%v", types)
			}
		})
	}
}

func TestEventTypes(t *testing.T) {
	cases := []struct {
		name string
		data string
		want []string
		ok   bool
	}{
		{"one", `{"eventType":"a","timestamp":"t"}`, []string{"a"}, true},
		{"several split by CRLF", "{\"eventType\":\"a\"}\r\n{\"eventType\":\"b\"}", []string{"a", "b"}, true},
		{"one over several lines", "{\"eventType\":\n\"a\"}", []string{"a"}, true},
		{"no eventType", `{"x":1}`, []string{""}, true},
		{"eventType not a string", `{"eventType":5}`, []string{""}, true},
		{"not JSON", `hello`, nil, false},
		{"garbage after one", `{"eventType":"a"} }`, []string{"a"}, false},
		{"not an object", `[1]`, nil, false},
		{"empty", ``, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := eventTypes([]byte(tc.data))
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzSSE: the reader never panics, never returns more data than the
// limit, and reading whole or byte by byte gives the same events.
func FuzzSSE(f *testing.F) {
	f.Add([]byte("event: a\r\ndata: {}\r\n\r\n\r\n: c\r\ndata: x\rdata: y\n\n"), 8)
	f.Add([]byte("data: \r"), 1)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		a := readAll(t, strings.NewReader(string(b)), max)
		c := readAll(t, iotest.OneByteReader(strings.NewReader(string(b))), max)
		if len(a) != len(c) {
			t.Fatalf("%d events whole, %d byte by byte", len(a), len(c))
		}
		for i := range a {
			if len(a[i].Data) > max {
				t.Fatalf("data of %d bytes over the limit %d", len(a[i].Data), max)
			}
			if a[i].Type != c[i].Type || string(a[i].Data) != string(c[i].Data) || a[i].TooLong != c[i].TooLong {
				t.Fatalf("event %d differs: %+v vs %+v", i, a[i], c[i])
			}
		}
	})
}
