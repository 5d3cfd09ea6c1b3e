// Package api holds the overlay's wire types: the JSON of the master's
// /overlay-master/state (State), an agent's /overlay-agent/overlay
// (AgentInfo), and the agents' registration, as the protobuf JSON mapping
// of the DC/OS overlay modules renders them (absent optional fields are
// omitted).
//
// # Imports
//
// Only the standard library: the allocator, the agent and the overlay
// source all speak it.
package api
