// Package mesosagent is the source of one Mesos agent's own tasks: it
// polls the agent's GET /state (the agent's state JSON, frameworks[]
// .executors[].tasks[]) every few seconds and hands each good state to a
// callback, as dcos-l4lb's agent-local Mesos poller did (§B.4, §0.6: each
// agent publishes the backends of its own tasks).
//
//	GET <agent>/state ─► Parse ─► master-shaped state.State ─► OnState
//
// Parse rewrites the agent's document into the master's shape (one
// framework per agent framework, its executors' running and queued tasks
// as the framework's tasks, the agent itself as the only slave) and reads
// it with state.Parse, so a task is decoded by the same tolerant rules as
// the master's: a bad task, executor or framework is skipped and reported
// (state.Skipped, naming the field) while the rest is served; a wholly bad
// document is an error, and the source keeps the last good state (it
// calls OnState only with good ones).
//
// # Imports
//
// internal/mesos/state and the standard library.
package mesosagent
