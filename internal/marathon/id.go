package marathon

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// idSegmentPattern is Marathon's rule for one app id segment, quoted in its
// validation message verbatim.
const idSegmentPattern = `^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$`

var idSegmentRE = regexp.MustCompile(`^(?:` + `(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)` + `)$`)

// CanonicalID makes an app id absolute the way Marathon does: empty
// segments are dropped and "." / ".." are resolved against the root. It
// does not validate the segments (see ValidateID).
func CanonicalID(id string) string {
	var out []string
	for _, s := range strings.Split(id, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	return "/" + strings.Join(out, "/")
}

// idErrors returns Marathon's messages for a raw (not yet canonical) id.
func idErrors(raw string) []string {
	var errs []string
	segs := []string{}
	for _, s := range strings.Split(raw, "/") {
		if s != "" {
			segs = append(segs, s)
		}
	}
	for _, s := range segs {
		if !idSegmentRE.MatchString(s) {
			errs = append(errs, "must fully match regular expression '"+idSegmentPattern+"'")
			break
		}
	}
	canon := CanonicalID(raw)
	if canon == "/" {
		errs = append(errs, "Path must contain at least one path element")
		return errs
	}
	if len(segs) > 0 {
		switch segs[len(segs)-1] {
		case "restart", "tasks", "versions", ".", "..":
			errs = append(errs, "must not end with any of the following reserved keywords: restart, tasks, versions, ., ..")
		}
	}
	return errs
}

// segments splits a canonical id.
func segments(id string) []string {
	id = strings.Trim(id, "/")
	if id == "" {
		return nil
	}
	return strings.Split(id, "/")
}

// TaskName is the Mesos task name (and DiscoveryInfo name) Marathon derives
// from an app id: the segments in reverse order joined by dots, so
// /dev/web → web.dev.
func TaskName(appID string) string {
	s := segments(appID)
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
	return strings.Join(s, ".")
}

// SafeID is the app id with '/' replaced by '_' (/dev/web → dev_web), the
// prefix of every task id.
func SafeID(appID string) string { return strings.Join(segments(appID), "_") }

// NewInstanceID returns a fresh instance id "<safe>.instance-<uuid v1>".
func NewInstanceID(appID string) string {
	return SafeID(appID) + ".instance-" + uuidV1(time.Now())
}

// TaskID is the Marathon ≥ 1.8 task id of an instance's incarnation.
func TaskID(instanceID string, incarnation int) string {
	return instanceID + "._app." + strconv.Itoa(incarnation)
}

var taskIDRE = regexp.MustCompile(`^(.+)\.(instance-|marathon-)([^_.]+)[._]([^.]+)(\.(\d+))?$`)

// ParsedTaskID is a task id split into its parts.
type ParsedTaskID struct {
	AppID      string
	InstanceID string
}

// ParseTaskID parses instance-era and legacy task ids (B.5).
func ParseTaskID(id string) (ParsedTaskID, error) {
	if m := taskIDRE.FindStringSubmatch(id); m != nil {
		return ParsedTaskID{AppID: "/" + strings.ReplaceAll(m[1], "_", "/"), InstanceID: m[1] + "." + m[2] + m[3]}, nil
	}
	// Legacy "<safe>.<uuid>".
	if i := strings.LastIndexByte(id, '.'); i > 0 && i < len(id)-1 {
		safe := id[:i]
		return ParsedTaskID{AppID: "/" + strings.ReplaceAll(safe, "_", "/"), InstanceID: id}, nil
	}
	return ParsedTaskID{}, fmt.Errorf("task id %q: not a Marathon task id", id)
}

// uuidV1 returns a time-based UUID with a random node and clock sequence,
// as Marathon uses for instance ids.
func uuidV1(t time.Time) string {
	// 100-ns intervals since 1582-10-15.
	ts := uint64(t.UnixNano()/100) + 0x01B21DD213814000
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(ts))
	binary.BigEndian.PutUint16(b[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(b[6:8], uint16(ts>>48)&0x0fff|0x1000)
	_, _ = rand.Read(b[8:16])
	b[8] = b[8]&0x3f | 0x80
	b[10] |= 0x01 // multicast bit: a random node id, per RFC 4122 §4.5
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// NewUUID returns a random (version 4) UUID, used for deployment ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Timestamp renders t the way Marathon does everywhere: UTC, exactly three
// fractional digits, 'Z'.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
