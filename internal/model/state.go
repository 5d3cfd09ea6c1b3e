package model

// TaskState is a task's state, as Mesos and Marathon name them.
type TaskState uint8

// Task states. StateUnknown stands for a state the source did not
// recognise (reported as a problem) or did not send.
const (
	StateUnknown TaskState = iota
	TaskStaging
	TaskStarting
	TaskRunning
	TaskKilling
	TaskFinished
	TaskFailed
	TaskKilled
	TaskError
	TaskLost
	TaskDropped
	TaskUnreachable
	TaskGone
	TaskGoneByOperator
)

var stateNames = [...]string{
	StateUnknown:       "TASK_UNKNOWN",
	TaskStaging:        "TASK_STAGING",
	TaskStarting:       "TASK_STARTING",
	TaskRunning:        "TASK_RUNNING",
	TaskKilling:        "TASK_KILLING",
	TaskFinished:       "TASK_FINISHED",
	TaskFailed:         "TASK_FAILED",
	TaskKilled:         "TASK_KILLED",
	TaskError:          "TASK_ERROR",
	TaskLost:           "TASK_LOST",
	TaskDropped:        "TASK_DROPPED",
	TaskUnreachable:    "TASK_UNREACHABLE",
	TaskGone:           "TASK_GONE",
	TaskGoneByOperator: "TASK_GONE_BY_OPERATOR",
}

// String returns the Mesos name ("TASK_RUNNING").
func (s TaskState) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return stateNames[StateUnknown]
}

// ParseTaskState maps a Mesos/Marathon state name to a TaskState; false
// for a name it does not know (then StateUnknown). "TASK_UNKNOWN" itself,
// which Marathon sends, is known.
func ParseTaskState(s string) (TaskState, bool) {
	// A switch, not a map: this runs once per task of a 100k-task state.
	switch s {
	case "TASK_RUNNING":
		return TaskRunning, true
	case "TASK_STAGING":
		return TaskStaging, true
	case "TASK_STARTING":
		return TaskStarting, true
	case "TASK_KILLING":
		return TaskKilling, true
	case "TASK_FINISHED":
		return TaskFinished, true
	case "TASK_FAILED":
		return TaskFailed, true
	case "TASK_KILLED":
		return TaskKilled, true
	case "TASK_ERROR":
		return TaskError, true
	case "TASK_LOST":
		return TaskLost, true
	case "TASK_DROPPED":
		return TaskDropped, true
	case "TASK_UNREACHABLE":
		return TaskUnreachable, true
	case "TASK_GONE":
		return TaskGone, true
	case "TASK_GONE_BY_OPERATOR":
		return TaskGoneByOperator, true
	case "TASK_UNKNOWN":
		return StateUnknown, true
	}
	return StateUnknown, false
}

// Terminal reports whether the task has ended for good, as dcos-net
// classifies states (unreachable and unknown tasks may come back).
func (s TaskState) Terminal() bool {
	switch s {
	case TaskFinished, TaskFailed, TaskKilled, TaskLost, TaskError, TaskDropped, TaskGone, TaskGoneByOperator:
		return true
	}
	return false
}
