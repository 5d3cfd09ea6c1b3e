package operator

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/sextantdc/sextant/internal/mesos/operator/v1"
	"github.com/sextantdc/sextant/internal/mesos/state"
)

// wholeRecord is the largest event record read whole; larger ones (in
// practice SUBSCRIBED, the whole cluster: 150 MB at 100,000 tasks) are
// decoded as they arrive, one item at a time, so neither the record nor a
// copy of its items is held.
const wholeRecord = 4 << 20

// applyStream decodes one large event record from r as it arrives and
// applies it, like applyRecord. Its fields are read in order: SUBSCRIBED's
// payload is applied item by item when "type" came before it, as masters
// send it; any other record is collected and handed to applyRecord.
func (m *model) applyStream(r io.Reader) (string, bool, error) {
	dec := json.NewDecoder(r)
	streamed := false
	fail := func(err error) (string, bool, error) {
		m.skipped++
		if streamed {
			// The whole record is bad: what was applied of it goes too
			// (a stream's SUBSCRIBED is its first record).
			m.reset()
		}
		return "", false, fmt.Errorf("event: %w", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return fail(err)
	}
	typ := ""
	rest := map[string]json.RawMessage{}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return fail(err)
		}
		switch {
		case strings.EqualFold(key, "type") && typ == "":
			if err := dec.Decode(&typ); err != nil {
				return fail(fmt.Errorf("type: %w", err))
			}
			rest[key], _ = json.Marshal(typ)
		case strings.EqualFold(key, "subscribed") && typ == v1.EventSubscribed && !streamed:
			streamed = true
			if err := m.streamSubscribed(dec); err != nil {
				m.skipped++
				m.reset()
				return typ, false, fmt.Errorf("event SUBSCRIBED: %w", err)
			}
		default:
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(err)
			}
			rest[key] = raw
		}
	}
	if _, err := dec.Token(); err != nil {
		return fail(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(fmt.Errorf("data after the event"))
	}
	if streamed {
		return typ, true, nil
	}
	rec, err := json.Marshal(rest)
	if err != nil {
		return fail(err)
	}
	return m.applyRecord(rec)
}

func (m *model) reset() {
	m.agents.reset()
	m.frameworks.reset()
	m.tasks.reset()
	m.subscribed = false
}

// streamSubscribed applies SUBSCRIBED's payload from dec, as
// applySubscribed does from a whole one: a list that is not a list fails
// it; one bad item costs that item.
func (m *model) streamSubscribed(dec *json.Decoder) error {
	m.reset()
	m.heartbeat = 0
	var hb json.RawMessage
	err := eachField(dec, func(key string) error {
		switch key {
		case "get_state":
			return eachField(dec, func(key string) error {
				switch key {
				case "get_tasks":
					return eachField(dec, func(key string) error {
						switch key {
						case "tasks", "unreachable_tasks":
							field := "get_tasks." + key
							return eachItem(dec, key, func(i int, raw json.RawMessage) {
								if t, ok := m.decodeTask(at(field, i), raw); ok {
									m.addTask(&t)
								}
							})
						}
						return skipValue(dec)
					})
				case "get_frameworks":
					return eachField(dec, func(key string) error {
						if key != "frameworks" {
							return skipValue(dec)
						}
						return eachItem(dec, key, func(i int, raw json.RawMessage) {
							if f, ok := m.decodeFramework(at("get_frameworks.frameworks", i), raw); ok {
								m.addFramework(&f)
							}
						})
					})
				case "get_agents":
					return eachField(dec, func(key string) error {
						if key != "agents" {
							return skipValue(dec)
						}
						return eachItem(dec, key, func(i int, raw json.RawMessage) {
							if a, ok := m.decodeAgent(at("get_agents.agents", i), raw); ok {
								m.addAgent(&a)
							}
						})
					})
				}
				return skipValue(dec)
			})
		case "heartbeat_interval_seconds":
			return dec.Decode(&hb)
		}
		return skipValue(dec)
	})
	if err != nil {
		return err
	}
	m.subscribed = true
	m.setHeartbeat(hb)
	return nil
}

func (m *model) setHeartbeat(raw json.RawMessage) {
	var hb v1.Float64
	if err := decode(raw, &hb); err != nil {
		// Without it the stream is judged by DeadTimeout and Resync only,
		// as for a master older than 1.5.
		m.lose(state.SkippedFor(state.KindField, "subscribed", "heartbeat_interval_seconds", err, "no heartbeat deadline"))
	} else if hb > 0 && float64(hb) < 1e6 {
		m.heartbeat = time.Duration(float64(hb) * float64(time.Second))
	}
}

var errNotObject = errors.New("not an object")

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("found %v, want %v", t, d)
	}
	return nil
}

func objectKey(dec *json.Decoder) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", err
	}
	k, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("object key %v", t)
	}
	return k, nil
}

// eachField calls f for each key of the object dec is at (null is an
// empty object); f must consume the key's value.
func eachField(dec *json.Decoder, f func(key string) error) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if t != json.Delim('{') {
		return fmt.Errorf("%w: %v", errNotObject, t)
	}
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		// encoding/json matches field names regardless of case.
		if err := f(strings.ToLower(key)); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	_, err = dec.Token()
	return err
}

// eachItem calls f with each item of the list dec is at (null is an empty
// list). The item's bytes are valid during the call only.
func eachItem(dec *json.Decoder, field string, f func(int, json.RawMessage)) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t == nil {
		return nil
	}
	if t != json.Delim('[') {
		return fmt.Errorf("%s is not a list: %v", field, t)
	}
	var raw json.RawMessage
	for i := 0; dec.More(); i++ {
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		f(i, raw)
	}
	_, err = dec.Token()
	return err
}

// skipValue consumes the value dec is at without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
