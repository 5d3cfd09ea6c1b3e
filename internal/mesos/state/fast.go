package state

import (
	"encoding/json"
	"strconv"
)

// This file is Parse's common case: a valid document in which every value
// has the type of its field, decoded in one pass straight into the typed
// structs. It gives exactly what json.Unmarshal gives for such a document
// (TestFastMatchesUnmarshal, FuzzFastMatchesUnmarshal) at a fraction of the
// cost: no reflection, no separate validation pass, and the strings that
// repeat thousands of times in a large state (agent and framework ids,
// states, protocols, port names, label keys and values, agent addresses)
// are made once per document and shared, which the model built from the
// state keeps sharing.
//
// Whatever it is not sure to decode as encoding/json would — a syntax
// error, a value of another type, a key that matches a field only
// case-insensitively, a duplicate key, nesting deeper than encoding/json
// accepts — makes it give up, and Parse falls back to encoding/json and
// its tolerant path, which report the problem as before. Strings with
// escapes or non-ASCII bytes are unquoted by encoding/json itself.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// fastDec is one run of the fast decoder over b.
type fastDec struct {
	b     []byte
	i     int
	depth int
	bad   bool
	strs  map[string]string
	bools []bool
}

// parseFast decodes b into a State, or reports false when it cannot be sure
// to decode b as json.Unmarshal would (then nothing it decoded is used).
func parseFast(b []byte) (*State, bool) {
	d := &fastDec{b: b, strs: make(map[string]string, 1024)}
	if d.peek() != '{' {
		return nil, false
	}
	s := &State{}
	d.state(s)
	d.ws()
	if d.bad || d.i != len(d.b) {
		return nil, false
	}
	return s, true
}

// fail stops the run: the cursor moves to the end, so every loop ends at
// its next check.
func (d *fastDec) fail() {
	d.bad = true
	d.i = len(d.b)
}

func (d *fastDec) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next byte that is not white space (0 at the end).
func (d *fastDec) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *fastDec) expect(c byte) {
	if d.peek() != c {
		d.fail()
		return
	}
	d.i++
}

// null consumes a JSON null if one is next.
func (d *fastDec) null() bool {
	if d.peek() == 'n' {
		d.literal("null")
		return true
	}
	return false
}

func (d *fastDec) literal(lit string) {
	if len(d.b)-d.i < len(lit) || string(d.b[d.i:d.i+len(lit)]) != lit {
		d.fail()
		return
	}
	d.i += len(lit)
}

// rawString consumes a string and returns its bytes between the quotes,
// and whether they need unquoting (escapes or non-ASCII bytes).
func (d *fastDec) rawString() (s []byte, slow bool) {
	if d.peek() != '"' {
		d.fail()
		return nil, false
	}
	d.i++
	start := d.i
	b := d.b
	for i := start; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return b[start:i], slow
		case c == '\\':
			slow = true
			if i+1 >= len(b) {
				d.fail()
				return nil, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					d.fail()
					return nil, false
				}
				i += 6
			default:
				d.fail()
				return nil, false
			}
		case c < 0x20:
			d.fail()
			return nil, false
		case c >= 0x80:
			slow = true
			i++
		default:
			i++
		}
	}
	d.fail()
	return nil, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote decodes a string that needs it with encoding/json itself, so
// escapes and invalid UTF-8 come out exactly as json.Unmarshal makes them.
func (d *fastDec) unquote(raw []byte) string {
	// raw is a subslice of d.b: the quotes are right around it.
	start := cap(d.b[:0]) - cap(raw) // offset of raw in d.b
	var s string
	if err := json.Unmarshal(d.b[start-1:start+len(raw)+1], &s); err != nil {
		d.fail()
	}
	return s
}

// str consumes a string value (null leaves *dst as it is, as encoding/json
// does); intern makes it once per document.
func (d *fastDec) str(dst *string, intern bool) {
	if d.null() {
		return
	}
	raw, slow := d.rawString()
	if d.bad {
		return
	}
	if slow {
		*dst = d.unquote(raw)
		return
	}
	if !intern {
		*dst = string(raw)
		return
	}
	if s, ok := d.strs[string(raw)]; ok {
		*dst = s
		return
	}
	s := string(raw)
	d.strs[s] = s
	*dst = s
}

// number consumes a number and returns its text, checked against JSON's
// grammar.
func (d *fastDec) number() []byte {
	d.ws()
	b, i := d.b, d.i
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		d.fail()
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.fail()
			return nil
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			d.fail()
			return nil
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	d.i = i
	return b[start:i]
}

// isNumberStart reports whether c can start a JSON number; a value
// starting otherwise has another type.
func isNumberStart(c byte) bool { return c == '-' || '0' <= c && c <= '9' }

func (d *fastDec) float(dst *float64) {
	if d.null() {
		return
	}
	if !isNumberStart(d.peek()) {
		d.fail()
		return
	}
	tok := d.number()
	if d.bad {
		return
	}
	// Integers, the common case, need no float parsing.
	if n, ok := smallUint(tok); ok && n < 1<<53 {
		*dst = float64(n)
		return
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		d.fail() // out of range: encoding/json's type error
		return
	}
	*dst = f
}

// smallUint parses a token of at most 15 digits.
func smallUint(tok []byte) (uint64, bool) {
	if len(tok) == 0 || len(tok) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func (d *fastDec) uint32(dst *uint32) {
	if d.null() {
		return
	}
	if !isNumberStart(d.peek()) {
		d.fail()
		return
	}
	tok := d.number()
	if d.bad {
		return
	}
	n, err := strconv.ParseUint(string(tok), 10, 32)
	if err != nil {
		d.fail()
		return
	}
	*dst = uint32(n)
}

func (d *fastDec) int(dst *int) {
	if d.null() {
		return
	}
	if !isNumberStart(d.peek()) {
		d.fail()
		return
	}
	tok := d.number()
	if d.bad {
		return
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		d.fail()
		return
	}
	*dst = int(n)
}

func (d *fastDec) boolPtr(dst **bool) {
	switch d.peek() {
	case 'n':
		d.literal("null")
		*dst = nil
		return
	case 't':
		d.literal("true")
		*dst = d.newBool(true)
	case 'f':
		d.literal("false")
		*dst = d.newBool(false)
	default:
		d.fail()
	}
}

// newBool hands out *bool from a slab: one allocation per 512 of them.
func (d *fastDec) newBool(v bool) *bool {
	if len(d.bools) == cap(d.bools) {
		d.bools = make([]bool, 0, 512)
	}
	d.bools = append(d.bools, v)
	return &d.bools[len(d.bools)-1]
}

// object consumes an object, calling member for each key with the cursor
// on its value; member must consume that value. null is taken as no
// object (the caller checked it when null means something else). A value
// that is not an object fails the run.
func (d *fastDec) object(member func(key []byte)) {
	if d.peek() != '{' {
		d.fail()
		return
	}
	d.i++
	d.depth++
	if d.depth > maxDepth {
		d.fail()
		return
	}
	if d.peek() == '}' {
		d.i++
		d.depth--
		return
	}
	for !d.bad {
		key, slow := d.rawString()
		if slow && !d.bad {
			key = []byte(d.unquote(key))
		}
		d.expect(':')
		if d.bad {
			return
		}
		member(key)
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			d.depth--
			return
		default:
			d.fail()
		}
	}
}

// array consumes an array, calling elem with the cursor on each element;
// elem must consume it. It reports false for null (and consumes it).
func (d *fastDec) array(elem func()) bool {
	if d.null() {
		return false
	}
	if d.peek() != '[' {
		d.fail()
		return false
	}
	d.i++
	d.depth++
	if d.depth > maxDepth {
		d.fail()
		return false
	}
	if d.peek() == ']' {
		d.i++
		d.depth--
		return true
	}
	for !d.bad {
		elem()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			d.depth--
			return true
		default:
			d.fail()
		}
	}
	return false
}

// skip consumes any value, checking its syntax.
func (d *fastDec) skip() {
	switch c := d.peek(); {
	case c == '"':
		d.rawString()
	case c == '{':
		d.object(func([]byte) { d.skip() })
	case c == '[':
		d.array(d.skip)
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case isNumberStart(c):
		d.number()
	default:
		d.fail()
	}
}

// seen marks field k of an object as decoded and fails the run on a
// duplicate: encoding/json would decode the second into the first.
func (d *fastDec) seen(mask *uint32, k uint) {
	if *mask&(1<<k) != 0 {
		d.fail()
		return
	}
	*mask |= 1 << k
}

// unknown consumes the value of a key that names no field. A key that
// names one but for case (or holds non-ASCII letters, which encoding/json
// also folds) fails the run: encoding/json would decode it into the field.
func (d *fastDec) unknown(key []byte, fields []string) {
	for _, c := range key {
		if c >= 0x80 {
			d.fail()
			return
		}
	}
	for _, f := range fields {
		if len(f) == len(key) && equalFoldASCII(f, key) {
			d.fail()
			return
		}
	}
	d.skip()
}

// equalFoldASCII compares lower-case f with ASCII key, ignoring case.
func equalFoldASCII(f string, key []byte) bool {
	for i := range len(f) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != f[i] {
			return false
		}
	}
	return true
}

// anyValue decodes a value into what encoding/json puts in an any.
func (d *fastDec) anyValue() any {
	switch c := d.peek(); {
	case c == '{':
		m := map[string]any{}
		d.object(func(k []byte) { m[string(k)] = d.anyValue() })
		return m
	case c == '[':
		a := []any{}
		d.array(func() { a = append(a, d.anyValue()) })
		return a
	case c == '"':
		var s string
		d.str(&s, true)
		return s
	case c == 't':
		d.literal("true")
		return true
	case c == 'f':
		d.literal("false")
		return false
	case c == 'n':
		d.literal("null")
		return nil
	case isNumberStart(c):
		var f float64
		d.float(&f)
		return f
	}
	d.fail()
	return nil
}

// The decoders of each type follow. Each knows its type's JSON field
// names (the *Fields lists, kept in step with the struct tags by
// TestFastKnowsEveryField) and decodes a null value as encoding/json
// does: the field keeps its zero value, a pointer or slice is nil.

var stateFields = []string{"id", "pid", "hostname", "version", "leader", "slaves", "frameworks", "leader_info"}

func (d *fastDec) state(s *State) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "id":
			d.seen(&m, 0)
			d.str(&s.ID, false)
		case "pid":
			d.seen(&m, 1)
			d.str(&s.PID, false)
		case "hostname":
			d.seen(&m, 2)
			d.str(&s.Hostname, false)
		case "version":
			d.seen(&m, 3)
			d.str(&s.Version, false)
		case "leader":
			d.seen(&m, 4)
			d.str(&s.Leader, false)
		case "slaves":
			d.seen(&m, 5)
			if d.array(func() {
				s.Slaves = append(s.Slaves, Slave{})
				d.slave(&s.Slaves[len(s.Slaves)-1])
			}) && s.Slaves == nil {
				s.Slaves = []Slave{}
			}
		case "frameworks":
			d.seen(&m, 6)
			if d.array(func() {
				s.Frameworks = append(s.Frameworks, Framework{})
				d.framework(&s.Frameworks[len(s.Frameworks)-1])
			}) && s.Frameworks == nil {
				s.Frameworks = []Framework{}
			}
		case "leader_info":
			d.seen(&m, 7)
			if d.null() {
				return
			}
			s.LeaderInfo = &MasterInfo{}
			d.masterInfo(s.LeaderInfo)
		default:
			d.unknown(k, stateFields)
		}
	})
}

var masterInfoFields = []string{"id", "ip", "port", "pid", "hostname", "version", "address"}

func (d *fastDec) masterInfo(mi *MasterInfo) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "id":
			d.seen(&m, 0)
			d.str(&mi.ID, false)
		case "ip":
			d.seen(&m, 1)
			d.uint32(&mi.IP)
		case "port":
			d.seen(&m, 2)
			d.int(&mi.Port)
		case "pid":
			d.seen(&m, 3)
			d.str(&mi.PID, false)
		case "hostname":
			d.seen(&m, 4)
			d.str(&mi.Hostname, false)
		case "version":
			d.seen(&m, 5)
			d.str(&mi.Version, false)
		case "address":
			d.seen(&m, 6)
			if d.null() {
				return
			}
			mi.Address = &Address{}
			d.address(mi.Address)
		default:
			d.unknown(k, masterInfoFields)
		}
	})
}

var addressFields = []string{"hostname", "ip", "port"}

func (d *fastDec) address(a *Address) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "hostname":
			d.seen(&m, 0)
			d.str(&a.Hostname, false)
		case "ip":
			d.seen(&m, 1)
			d.str(&a.IP, false)
		case "port":
			d.seen(&m, 2)
			d.int(&a.Port)
		default:
			d.unknown(k, addressFields)
		}
	})
}

var slaveFields = []string{"id", "pid", "hostname", "active", "attributes", "resources"}

func (d *fastDec) slave(s *Slave) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "id":
			d.seen(&m, 0)
			d.str(&s.ID, true) // tasks name their agent by it
		case "pid":
			d.seen(&m, 1)
			d.str(&s.PID, false)
		case "hostname":
			d.seen(&m, 2)
			d.str(&s.Hostname, false)
		case "active":
			d.seen(&m, 3)
			d.boolPtr(&s.Active)
		case "attributes":
			d.seen(&m, 4)
			if d.null() {
				return
			}
			if d.peek() != '{' {
				d.fail()
				return
			}
			s.Attributes = d.anyValue().(map[string]any)
		case "resources":
			d.seen(&m, 5)
			if d.null() {
				return
			}
			s.Resources = &Resources{}
			d.resources(s.Resources)
		default:
			d.unknown(k, slaveFields)
		}
	})
}

var resourcesFields = []string{"cpus", "mem", "disk", "gpus", "ports"}

func (d *fastDec) resources(r *Resources) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "cpus":
			d.seen(&m, 0)
			d.float(&r.CPUs)
		case "mem":
			d.seen(&m, 1)
			d.float(&r.Mem)
		case "disk":
			d.seen(&m, 2)
			d.float(&r.Disk)
		case "gpus":
			d.seen(&m, 3)
			d.float(&r.GPUs)
		case "ports":
			d.seen(&m, 4)
			d.str(&r.Ports, false)
		default:
			d.unknown(k, resourcesFields)
		}
	})
}

var frameworkFields = []string{"id", "name", "pid", "hostname", "active", "webui_url", "tasks"}

func (d *fastDec) framework(f *Framework) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "id":
			d.seen(&m, 0)
			d.str(&f.ID, true)
		case "name":
			d.seen(&m, 1)
			d.str(&f.Name, true)
		case "pid":
			d.seen(&m, 2)
			d.str(&f.PID, false)
		case "hostname":
			d.seen(&m, 3)
			d.str(&f.Hostname, true)
		case "active":
			d.seen(&m, 4)
			d.boolPtr(&f.Active)
		case "webui_url":
			d.seen(&m, 5)
			d.str(&f.WebUIURL, false)
		case "tasks":
			d.seen(&m, 6)
			if d.array(func() {
				f.Tasks = append(f.Tasks, Task{})
				d.task(&f.Tasks[len(f.Tasks)-1])
			}) && f.Tasks == nil {
				f.Tasks = []Task{}
			}
		default:
			d.unknown(k, frameworkFields)
		}
	})
}

var taskFields = []string{"id", "name", "framework_id", "executor_id", "slave_id", "state", "resources", "statuses",
	"labels", "discovery", "container", "health_check"}

func (d *fastDec) task(t *Task) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "id":
			d.seen(&m, 0)
			d.str(&t.ID, false)
		case "name":
			d.seen(&m, 1)
			d.str(&t.Name, true) // shared by an app's instances
		case "framework_id":
			d.seen(&m, 2)
			d.str(&t.FrameworkID, true)
		case "executor_id":
			d.seen(&m, 3)
			d.str(&t.ExecutorID, false)
		case "slave_id":
			d.seen(&m, 4)
			d.str(&t.SlaveID, true)
		case "state":
			d.seen(&m, 5)
			d.str(&t.State, true)
		case "resources":
			d.seen(&m, 6)
			d.resources(&t.Resources)
		case "statuses":
			d.seen(&m, 7)
			if d.array(func() {
				t.Statuses = append(t.Statuses, Status{})
				d.status(&t.Statuses[len(t.Statuses)-1])
			}) && t.Statuses == nil {
				t.Statuses = []Status{}
			}
		case "labels":
			d.seen(&m, 8)
			t.Labels = d.labelList()
		case "discovery":
			d.seen(&m, 9)
			if d.null() {
				return
			}
			t.Discovery = &Discovery{}
			d.discovery(t.Discovery)
		case "container":
			d.seen(&m, 10)
			if d.null() {
				return
			}
			t.Container = &Container{}
			d.container(t.Container)
		case "health_check":
			d.seen(&m, 11)
			if d.null() {
				return
			}
			t.HealthCheck = &HealthCheck{}
			d.healthCheck(t.HealthCheck)
		default:
			d.unknown(k, taskFields)
		}
	})
}

var statusFields = []string{"state", "timestamp", "labels", "container_status", "healthy"}

func (d *fastDec) status(s *Status) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "state":
			d.seen(&m, 0)
			d.str(&s.State, true)
		case "timestamp":
			d.seen(&m, 1)
			d.float(&s.Timestamp)
		case "labels":
			d.seen(&m, 2)
			s.Labels = d.labelList()
		case "container_status":
			d.seen(&m, 3)
			if d.null() {
				return
			}
			s.ContainerStatus = &ContainerStatus{}
			d.containerStatus(s.ContainerStatus)
		case "healthy":
			d.seen(&m, 4)
			d.boolPtr(&s.Healthy)
		default:
			d.unknown(k, statusFields)
		}
	})
}

var containerStatusFields = []string{"network_infos"}

func (d *fastDec) containerStatus(cs *ContainerStatus) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "network_infos":
			d.seen(&m, 0)
			cs.NetworkInfos = d.networkInfos()
		default:
			d.unknown(k, containerStatusFields)
		}
	})
}

func (d *fastDec) networkInfos() []NetworkInfo {
	var out []NetworkInfo
	if d.array(func() {
		out = append(out, NetworkInfo{})
		d.networkInfo(&out[len(out)-1])
	}) && out == nil {
		out = []NetworkInfo{}
	}
	return out
}

var networkInfoFields = []string{"name", "ip_addresses", "ip_address", "labels", "port_mappings"}

func (d *fastDec) networkInfo(ni *NetworkInfo) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "name":
			d.seen(&m, 0)
			d.str(&ni.Name, true)
		case "ip_addresses":
			d.seen(&m, 1)
			if d.array(func() {
				ni.IPAddresses = append(ni.IPAddresses, IPAddress{})
				d.ipAddress(&ni.IPAddresses[len(ni.IPAddresses)-1])
			}) && ni.IPAddresses == nil {
				ni.IPAddresses = []IPAddress{}
			}
		case "ip_address":
			d.seen(&m, 2)
			d.str(&ni.IPAddress, true)
		case "labels":
			d.seen(&m, 3)
			ni.Labels = d.labelsObject()
		case "port_mappings":
			d.seen(&m, 4)
			ni.PortMappings = d.portMappings()
		default:
			d.unknown(k, networkInfoFields)
		}
	})
}

var ipAddressFields = []string{"protocol", "ip_address"}

func (d *fastDec) ipAddress(a *IPAddress) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "protocol":
			d.seen(&m, 0)
			d.str(&a.Protocol, true)
		case "ip_address":
			d.seen(&m, 1)
			// Host-network tasks report their agent's address.
			d.str(&a.IPAddress, true)
		default:
			d.unknown(k, ipAddressFields)
		}
	})
}

func (d *fastDec) portMappings() []PortMapping {
	var out []PortMapping
	if d.array(func() {
		out = append(out, PortMapping{})
		d.portMapping(&out[len(out)-1])
	}) && out == nil {
		out = []PortMapping{}
	}
	return out
}

var portMappingFields = []string{"host_port", "container_port", "protocol"}

func (d *fastDec) portMapping(p *PortMapping) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "host_port":
			d.seen(&m, 0)
			d.uint32(&p.HostPort)
		case "container_port":
			d.seen(&m, 1)
			d.uint32(&p.ContainerPort)
		case "protocol":
			d.seen(&m, 2)
			d.str(&p.Protocol, true)
		default:
			d.unknown(k, portMappingFields)
		}
	})
}

var labelFields = []string{"key", "value"}

// labelList decodes a bare label array; keys and values repeat across an
// app's tasks and are made once.
func (d *fastDec) labelList() []Label {
	var out []Label
	if d.array(func() {
		out = append(out, Label{})
		l := &out[len(out)-1]
		if d.null() {
			return
		}
		var m uint32
		d.object(func(k []byte) {
			switch string(k) {
			case "key":
				d.seen(&m, 0)
				d.str(&l.Key, true)
			case "value":
				d.seen(&m, 1)
				d.str(&l.Value, true)
			default:
				d.unknown(k, labelFields)
			}
		})
	}) && out == nil {
		out = []Label{}
	}
	return out
}

var labelsFields = []string{"labels"}

// labelsObject decodes a wrapped label list ({"labels":[…]}).
func (d *fastDec) labelsObject() *Labels {
	if d.null() {
		return nil
	}
	ls := &Labels{}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "labels":
			d.seen(&m, 0)
			ls.Labels = d.labelList()
		default:
			d.unknown(k, labelsFields)
		}
	})
	return ls
}

var discoveryFields = []string{"visibility", "name", "ports", "labels"}

func (d *fastDec) discovery(di *Discovery) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "visibility":
			d.seen(&m, 0)
			d.str(&di.Visibility, true)
		case "name":
			d.seen(&m, 1)
			d.str(&di.Name, true)
		case "ports":
			d.seen(&m, 2)
			if d.null() {
				return
			}
			di.Ports = &Ports{}
			d.ports(di.Ports)
		case "labels":
			d.seen(&m, 3)
			di.Labels = d.labelsObject()
		default:
			d.unknown(k, discoveryFields)
		}
	})
}

var portsFields = []string{"ports"}

func (d *fastDec) ports(p *Ports) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "ports":
			d.seen(&m, 0)
			if d.array(func() {
				p.Ports = append(p.Ports, DiscoveryPort{})
				d.discoveryPort(&p.Ports[len(p.Ports)-1])
			}) && p.Ports == nil {
				p.Ports = []DiscoveryPort{}
			}
		default:
			d.unknown(k, portsFields)
		}
	})
}

var discoveryPortFields = []string{"number", "name", "protocol", "visibility", "labels"}

func (d *fastDec) discoveryPort(p *DiscoveryPort) {
	if d.null() {
		return
	}
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "number":
			d.seen(&m, 0)
			d.uint32(&p.Number)
		case "name":
			d.seen(&m, 1)
			d.str(&p.Name, true)
		case "protocol":
			d.seen(&m, 2)
			d.str(&p.Protocol, true)
		case "visibility":
			d.seen(&m, 3)
			d.str(&p.Visibility, true)
		case "labels":
			d.seen(&m, 4)
			p.Labels = d.labelsObject()
		default:
			d.unknown(k, discoveryPortFields)
		}
	})
}

var containerFields = []string{"type", "docker", "network_infos"}

func (d *fastDec) container(c *Container) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "type":
			d.seen(&m, 0)
			d.str(&c.Type, true)
		case "docker":
			d.seen(&m, 1)
			if d.null() {
				return
			}
			c.Docker = &Docker{}
			d.docker(c.Docker)
		case "network_infos":
			d.seen(&m, 2)
			c.NetworkInfos = d.networkInfos()
		default:
			d.unknown(k, containerFields)
		}
	})
}

var dockerFields = []string{"image", "network", "port_mappings"}

func (d *fastDec) docker(dk *Docker) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "image":
			d.seen(&m, 0)
			d.str(&dk.Image, true)
		case "network":
			d.seen(&m, 1)
			d.str(&dk.Network, true)
		case "port_mappings":
			d.seen(&m, 2)
			dk.PortMappings = d.portMappings()
		default:
			d.unknown(k, dockerFields)
		}
	})
}

var healthCheckFields = []string{"type"}

func (d *fastDec) healthCheck(h *HealthCheck) {
	var m uint32
	d.object(func(k []byte) {
		switch string(k) {
		case "type":
			d.seen(&m, 0)
			d.str(&h.Type, true)
		default:
			d.unknown(k, healthCheckFields)
		}
	})
}
