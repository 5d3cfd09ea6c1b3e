// Package v1 holds the Mesos v1 operator API JSON shapes (mesos.v1.master
// Call/Response/Event and the mesos.v1 messages they carry) in Mesos' own
// JSON encoding — proto field names, 64-bit integers as numbers, wrapped ids
// and labels — and the conversions between them and the v0 /master/state
// shapes of package state.
//
// Only the fields Sextant serves or reads are typed; unknown fields are
// ignored on decode, as Mesos itself ignores them.
//
// Imports of Sextant's own packages: internal/mesos/state; nothing else of Sextant.
package v1

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sextantdc/sextant/internal/mesos/state"
)

// Float64 is a protobuf double as Mesos prints it: integral values keep a
// ".0" (15.0), which some consumers' JSON libraries use to tell floats from
// integers. On decode a number or a numeric string is accepted.
type Float64 float64

// MarshalJSON implements json.Marshaler.
func (f Float64) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		// JSON has no NaN; Mesos never produces one for these fields.
		return []byte("0.0"), nil
	}
	b := strconv.AppendFloat(nil, v, 'f', -1, 64)
	if !strings.ContainsAny(string(b), ".eE") {
		b = append(b, '.', '0')
	}
	return b, nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float64) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("not a number: %.40q", string(b))
	}
	*f = Float64(v)
	return nil
}

// ID is every message-typed identifier (TaskID, AgentID, FrameworkID, …).
type ID struct {
	Value string `json:"value"`
}

// NewID returns a pointer to an ID, nil for the empty string.
func NewID(s string) *ID {
	if s == "" {
		return nil
	}
	return &ID{Value: s}
}

// Str returns the id's value; nil yields "".
func (id *ID) Str() string {
	if id == nil {
		return ""
	}
	return id.Value
}

// TimeInfo is a point in time in nanoseconds since the epoch.
type TimeInfo struct {
	Nanoseconds int64 `json:"nanoseconds"`
}

// Labels is the wrapped label list {"labels":[…]}.
type Labels = state.Labels

// Scalar is a SCALAR value.
type Scalar struct {
	Value Float64 `json:"value"`
}

// Range is an inclusive range of a RANGES value.
type Range struct {
	Begin uint64 `json:"begin"`
	End   uint64 `json:"end"`
}

// Ranges is a RANGES value.
type Ranges struct {
	Range []Range `json:"range"`
}

// Set is a SET value.
type Set struct {
	Item []string `json:"item"`
}

// Text is a TEXT value.
type Text struct {
	Value string `json:"value"`
}

// AllocationInfo names the role a resource was allocated to.
type AllocationInfo struct {
	Role string `json:"role,omitempty"`
}

// Resource is one named resource (cpus, mem, disk, gpus, ports, …).
type Resource struct {
	Name           string          `json:"name"`
	Type           string          `json:"type"`
	Scalar         *Scalar         `json:"scalar,omitempty"`
	Ranges         *Ranges         `json:"ranges,omitempty"`
	Set            *Set            `json:"set,omitempty"`
	Role           string          `json:"role,omitempty"`
	AllocationInfo *AllocationInfo `json:"allocation_info,omitempty"`
}

// Attribute is an agent attribute.
type Attribute struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Scalar *Scalar `json:"scalar,omitempty"`
	Ranges *Ranges `json:"ranges,omitempty"`
	Set    *Set    `json:"set,omitempty"`
	Text   *Text   `json:"text,omitempty"`
}

// Capability is an agent or framework capability.
type Capability struct {
	Type string `json:"type"`
}

// TaskStatus is one status update of a task.
type TaskStatus struct {
	TaskID          ID                     `json:"task_id"`
	State           string                 `json:"state"`
	Source          string                 `json:"source,omitempty"`
	Reason          string                 `json:"reason,omitempty"`
	Message         string                 `json:"message,omitempty"`
	AgentID         *ID                    `json:"agent_id,omitempty"`
	ExecutorID      *ID                    `json:"executor_id,omitempty"`
	Timestamp       *Float64               `json:"timestamp,omitempty"`
	UUID            string                 `json:"uuid,omitempty"`
	Healthy         *bool                  `json:"healthy,omitempty"`
	Labels          *Labels                `json:"labels,omitempty"`
	ContainerStatus *state.ContainerStatus `json:"container_status,omitempty"`
}

// Task is a task as the operator API renders it.
type Task struct {
	Name              string             `json:"name"`
	TaskID            ID                 `json:"task_id"`
	FrameworkID       ID                 `json:"framework_id"`
	ExecutorID        *ID                `json:"executor_id,omitempty"`
	AgentID           ID                 `json:"agent_id"`
	State             string             `json:"state"`
	Resources         []Resource         `json:"resources,omitempty"`
	Statuses          []TaskStatus       `json:"statuses,omitempty"`
	StatusUpdateState string             `json:"status_update_state,omitempty"`
	StatusUpdateUUID  string             `json:"status_update_uuid,omitempty"`
	Labels            *Labels            `json:"labels,omitempty"`
	Discovery         *state.Discovery   `json:"discovery,omitempty"`
	Container         *state.Container   `json:"container,omitempty"`
	HealthCheck       *state.HealthCheck `json:"health_check,omitempty"`
}

// AgentInfo is an agent's self-description.
type AgentInfo struct {
	Hostname   string      `json:"hostname"`
	Port       int         `json:"port,omitempty"`
	ID         *ID         `json:"id,omitempty"`
	Resources  []Resource  `json:"resources,omitempty"`
	Attributes []Attribute `json:"attributes,omitempty"`
}

// Agent is a registered agent (element of get_agents.agents).
type Agent struct {
	AgentInfo          AgentInfo    `json:"agent_info"`
	Active             bool         `json:"active"`
	Deactivated        bool         `json:"deactivated"`
	Version            string       `json:"version"`
	PID                string       `json:"pid,omitempty"`
	RegisteredTime     *TimeInfo    `json:"registered_time,omitempty"`
	ReregisteredTime   *TimeInfo    `json:"reregistered_time,omitempty"`
	TotalResources     []Resource   `json:"total_resources,omitempty"`
	AllocatedResources []Resource   `json:"allocated_resources,omitempty"`
	OfferedResources   []Resource   `json:"offered_resources,omitempty"`
	Capabilities       []Capability `json:"capabilities,omitempty"`
}

// FrameworkInfo is a framework's self-description.
type FrameworkInfo struct {
	User            string       `json:"user"`
	Name            string       `json:"name"`
	ID              *ID          `json:"id,omitempty"`
	FailoverTimeout Float64      `json:"failover_timeout"`
	Checkpoint      bool         `json:"checkpoint"`
	Roles           []string     `json:"roles,omitempty"`
	Hostname        string       `json:"hostname,omitempty"`
	Principal       string       `json:"principal,omitempty"`
	WebUIURL        string       `json:"webui_url,omitempty"`
	Capabilities    []Capability `json:"capabilities,omitempty"`
	Labels          *Labels      `json:"labels,omitempty"`
}

// Framework is a registered framework (element of get_frameworks.frameworks).
type Framework struct {
	FrameworkInfo      FrameworkInfo `json:"framework_info"`
	Active             bool          `json:"active"`
	Connected          bool          `json:"connected"`
	Recovered          bool          `json:"recovered"`
	RegisteredTime     *TimeInfo     `json:"registered_time,omitempty"`
	ReregisteredTime   *TimeInfo     `json:"reregistered_time,omitempty"`
	AllocatedResources []Resource    `json:"allocated_resources"`
	OfferedResources   []Resource    `json:"offered_resources"`
}

// GetTasks is the payload of GET_TASKS. The lists are always present, as
// Mesos ≥ 1.10 emits them.
type GetTasks struct {
	Tasks            []Task `json:"tasks"`
	UnreachableTasks []Task `json:"unreachable_tasks"`
	CompletedTasks   []Task `json:"completed_tasks"`
}

// Executor is an element of get_executors.executors.
type Executor struct {
	ExecutorInfo json.RawMessage `json:"executor_info"`
	AgentID      ID              `json:"agent_id"`
}

// GetExecutors is the payload of GET_EXECUTORS.
type GetExecutors struct {
	Executors []Executor `json:"executors"`
}

// GetFrameworks is the payload of GET_FRAMEWORKS.
type GetFrameworks struct {
	Frameworks          []Framework `json:"frameworks"`
	CompletedFrameworks []Framework `json:"completed_frameworks"`
}

// GetAgents is the payload of GET_AGENTS. RecoveredAgents are bare
// AgentInfo objects.
type GetAgents struct {
	Agents          []Agent     `json:"agents"`
	RecoveredAgents []AgentInfo `json:"recovered_agents"`
}

// GetState is the payload of GET_STATE and of subscribed.get_state.
type GetState struct {
	GetTasks      GetTasks      `json:"get_tasks"`
	GetExecutors  GetExecutors  `json:"get_executors"`
	GetFrameworks GetFrameworks `json:"get_frameworks"`
	GetAgents     GetAgents     `json:"get_agents"`
}

// Address is a network address.
type Address = state.Address

// MasterInfo is the master's self-description.
type MasterInfo struct {
	ID           string       `json:"id"`
	IP           uint32       `json:"ip"`
	Port         int          `json:"port"`
	PID          string       `json:"pid,omitempty"`
	Hostname     string       `json:"hostname,omitempty"`
	Version      string       `json:"version,omitempty"`
	Address      *Address     `json:"address,omitempty"`
	Capabilities []Capability `json:"capabilities,omitempty"`
}

// GetMaster is the payload of GET_MASTER. Times are float seconds.
type GetMaster struct {
	MasterInfo  MasterInfo `json:"master_info"`
	StartTime   *Float64   `json:"start_time,omitempty"`
	ElectedTime *Float64   `json:"elected_time,omitempty"`
}

// VersionInfo describes the build.
type VersionInfo struct {
	Version   string   `json:"version"`
	BuildDate string   `json:"build_date,omitempty"`
	BuildTime *Float64 `json:"build_time,omitempty"`
	BuildUser string   `json:"build_user,omitempty"`
	GitSHA    string   `json:"git_sha,omitempty"`
	GitBranch string   `json:"git_branch,omitempty"`
	GitTag    string   `json:"git_tag,omitempty"`
}

// GetVersion is the payload of GET_VERSION.
type GetVersion struct {
	VersionInfo VersionInfo `json:"version_info"`
}

// GetHealth is the payload of GET_HEALTH.
type GetHealth struct {
	Healthy bool `json:"healthy"`
}

// Subscribed is the payload of the SUBSCRIBED event.
type Subscribed struct {
	GetState GetState `json:"get_state"`
	// HeartbeatIntervalSeconds is absent on masters older than 1.5, which
	// send no heartbeats at all.
	HeartbeatIntervalSeconds *Float64 `json:"heartbeat_interval_seconds,omitempty"`
}

// TaskAdded is the payload of TASK_ADDED.
type TaskAdded struct {
	Task Task `json:"task"`
}

// TaskUpdated is the payload of TASK_UPDATED. State is the task's latest
// state and is what consumers must use; Status may lag behind it.
type TaskUpdated struct {
	FrameworkID ID         `json:"framework_id"`
	Status      TaskStatus `json:"status"`
	State       string     `json:"state"`
}

// AgentAdded is the payload of AGENT_ADDED.
type AgentAdded struct {
	Agent Agent `json:"agent"`
}

// AgentRemoved is the payload of AGENT_REMOVED.
type AgentRemoved struct {
	AgentID ID `json:"agent_id"`
}

// FrameworkEvent is the payload of FRAMEWORK_ADDED and FRAMEWORK_UPDATED.
type FrameworkEvent struct {
	Framework Framework `json:"framework"`
}

// FrameworkRemoved is the payload of FRAMEWORK_REMOVED: the info, not a
// Framework wrapper.
type FrameworkRemoved struct {
	FrameworkInfo FrameworkInfo `json:"framework_info"`
}

// Event types.
const (
	EventSubscribed       = "SUBSCRIBED"
	EventHeartbeat        = "HEARTBEAT"
	EventTaskAdded        = "TASK_ADDED"
	EventTaskUpdated      = "TASK_UPDATED"
	EventAgentAdded       = "AGENT_ADDED"
	EventAgentRemoved     = "AGENT_REMOVED"
	EventFrameworkAdded   = "FRAMEWORK_ADDED"
	EventFrameworkUpdated = "FRAMEWORK_UPDATED"
	EventFrameworkRemoved = "FRAMEWORK_REMOVED"
)

// Event is one record of a SUBSCRIBE stream. Exactly the payload matching
// Type is set (none for HEARTBEAT).
type Event struct {
	Type             string            `json:"type"`
	Subscribed       *Subscribed       `json:"subscribed,omitempty"`
	TaskAdded        *TaskAdded        `json:"task_added,omitempty"`
	TaskUpdated      *TaskUpdated      `json:"task_updated,omitempty"`
	AgentAdded       *AgentAdded       `json:"agent_added,omitempty"`
	AgentRemoved     *AgentRemoved     `json:"agent_removed,omitempty"`
	FrameworkAdded   *FrameworkEvent   `json:"framework_added,omitempty"`
	FrameworkUpdated *FrameworkEvent   `json:"framework_updated,omitempty"`
	FrameworkRemoved *FrameworkRemoved `json:"framework_removed,omitempty"`
}

// Response is the answer to a synchronous call: Type echoes the call and
// exactly the matching payload is set.
type Response struct {
	Type          string         `json:"type"`
	GetHealth     *GetHealth     `json:"get_health,omitempty"`
	GetVersion    *GetVersion    `json:"get_version,omitempty"`
	GetMaster     *GetMaster     `json:"get_master,omitempty"`
	GetState      *GetState      `json:"get_state,omitempty"`
	GetAgents     *GetAgents     `json:"get_agents,omitempty"`
	GetFrameworks *GetFrameworks `json:"get_frameworks,omitempty"`
	GetExecutors  *GetExecutors  `json:"get_executors,omitempty"`
	GetTasks      *GetTasks      `json:"get_tasks,omitempty"`
}

// TerminalState reports whether a task state is terminal. TASK_LOST counts
// as terminal (it is for frameworks that are not partition-aware, and a
// lost task is never routable); TASK_UNREACHABLE does not.
func TerminalState(s string) bool {
	switch s {
	case "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR",
		"TASK_DROPPED", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_LOST":
		return true
	}
	return false
}
