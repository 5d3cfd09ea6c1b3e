package recordio

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestFrameHeartbeat(t *testing.T) {
	got := Frame([]byte(`{"type":"HEARTBEAT"}`))
	want := "20\n{\"type\":\"HEARTBEAT\"}"
	if string(got) != want || len(got) != 23 {
		t.Fatalf("Frame = %q (%d bytes), want %q (23 bytes)", got, len(got), want)
	}
}

func TestFrameCountsBytes(t *testing.T) {
	got := Frame([]byte(`"é"`))
	if string(got) != "4\n\"é\"" {
		t.Fatalf("Frame = %q, want length 4 (é is 2 bytes)", got)
	}
}

func readAll(t *testing.T, r io.Reader) ([]string, error) {
	t.Helper()
	rr := NewReader(r, 0)
	var out []string
	for i := 0; i < 1000; i++ {
		rec, err := rr.Next()
		if err != nil {
			if err == io.EOF {
				return out, nil
			}
			return out, err
		}
		out = append(out, string(rec))
	}
	t.Fatal("too many records")
	return nil, nil
}

func TestReaderWholeAndByteByByte(t *testing.T) {
	recs := []string{`{"type":"SUBSCRIBED"}`, `{"type":"HEARTBEAT"}`, `"é"`, ``, `{"a":"` + strings.Repeat("x", 70000) + `"}`}
	var stream []byte
	for _, r := range recs {
		stream = Append(stream, []byte(r))
	}
	whole, err := readAll(t, bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	onebyte, err := readAll(t, iotest.OneByteReader(bytes.NewReader(stream)))
	if err != nil {
		t.Fatal(err)
	}
	// A zero-length record reads as an empty record, then the rest.
	if len(whole) != len(recs) || len(onebyte) != len(recs) {
		t.Fatalf("got %d and %d records, want %d", len(whole), len(onebyte), len(recs))
	}
	for i := range recs {
		if whole[i] != recs[i] || onebyte[i] != recs[i] {
			t.Fatalf("record %d differs", i)
		}
	}
}

func TestReaderSkipsBlankLines(t *testing.T) {
	got, err := readAll(t, strings.NewReader("\n\n2\n{}\n3\n[1]"))
	if err != nil || len(got) != 2 || got[0] != "{}" || got[1] != "[1]" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestReaderErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
	}{
		{"truncated record", "12\n" + strings.Repeat("x", 11), io.ErrUnexpectedEOF},
		{"truncated length", "12", io.ErrUnexpectedEOF},
		{"non-digit", "1a\nxx", nil},
		{"sign", "-1\nx", nil},
		{"CRLF", "2\r\n{}", nil},
		{"too many digits", "123456789012345678901\n", nil},
		{"overflow", "99999999999999999999\n", nil},
		{"too large", "300000000\n", ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestReaderMax(t *testing.T) {
	rr := NewReader(strings.NewReader("5\nhello"), 4)
	if _, err := rr.Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("20\n{\"type\":\"HEARTBEAT\"}"))
	f.Add([]byte("\n\n2\n{}0\n"))
	f.Add([]byte("12\nabc"))
	f.Add([]byte("99999999999999999999999\n"))
	f.Add([]byte("1x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rr := NewReader(bytes.NewReader(data), 1<<16)
		var recs [][]byte
		for i := 0; i <= len(data); i++ {
			rec, err := rr.Next()
			if err != nil {
				break
			}
			recs = append(recs, append([]byte(nil), rec...))
		}
		// Round trip: re-framing what was read and reading it again gives
		// the same records.
		var stream []byte
		for _, r := range recs {
			stream = Append(stream, r)
		}
		rr2 := NewReader(bytes.NewReader(stream), 1<<16)
		for i, want := range recs {
			got, err := rr2.Next()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("record %d: got %q, %v; want %q", i, got, err, want)
			}
		}
		if _, err := rr2.Next(); err != io.EOF {
			t.Fatalf("after records: %v, want EOF", err)
		}
	})
}

func TestHasRecord(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", false}, {"2", false}, {"2\n{", false}, {"2\n{}", true}, {"\n\n0\n", true}, {"x\n", false},
		{"2\n{}3\n[1", true},
	} {
		rr := NewReader(strings.NewReader(tc.in), 0)
		// Fill the buffer without consuming: Peek reads what is available.
		_, _ = rr.r.Peek(len(tc.in))
		if got := rr.HasRecord(); got != tc.want {
			t.Errorf("%q: HasRecord = %v, want %v", tc.in, got, tc.want)
		}
	}
	rr := NewReader(strings.NewReader("2\n{}3\n[1"), 0)
	if _, err := rr.Next(); err != nil {
		t.Fatal(err)
	}
	if rr.HasRecord() {
		t.Fatal("partial record reported complete")
	}
}

// TestNextStream: records up to the size read whole come as slices, larger
// ones as readers of exactly their bytes, with no limit on their size; an
// unread remainder is skipped, and a record cut short is an error.
func TestNextStream(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 100)
	var s []byte
	s = Append(s, []byte("small"))
	s = Append(s, big)
	s = Append(s, big) // left unread
	s = Append(s, []byte("after"))
	s = append(s, "50\nshort"...)
	rr := NewReader(bytes.NewReader(s), 10) // below big: NextStream is not bound by it
	if rec, body, err := rr.NextStream(10); err != nil || body != nil || string(rec) != "small" {
		t.Fatalf("small: %q %v %v", rec, body != nil, err)
	}
	_, body, err := rr.NextStream(10)
	if err != nil || body == nil {
		t.Fatalf("big: %v %v", body != nil, err)
	}
	if b, err := io.ReadAll(body); err != nil || !bytes.Equal(b, big) {
		t.Fatalf("big body: %d bytes, %v", len(b), err)
	}
	if _, body, err = rr.NextStream(10); err != nil || body == nil {
		t.Fatalf("second big: %v", err)
	}
	if rec, _, err := rr.NextStream(10); err != nil || string(rec) != "after" {
		t.Fatalf("after an unread record: %q %v", rec, err)
	}
	if _, body, err = rr.NextStream(10); err != nil || body == nil {
		t.Fatalf("short: %v", err)
	}
	if _, err := io.ReadAll(body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short record: %v, want ErrUnexpectedEOF", err)
	}
}
