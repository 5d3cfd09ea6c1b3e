// Package isolate enforces isolation groups on an overlay (spec §C.6,
// which DC/OS advertised and never enforced): a task on the overlay may
// name groups, and two tasks that both name groups can reach each other's
// overlay IPs only when they share one. A task that names no group is
// isolated from nobody. Groups come from the model: the "groups" label
// (a comma-separated list) of the app's container network.
//
// Policy is computed from endpoints as a pure function (Compute, with
// Allowed as its plain-language oracle); Apply installs it as nftables
// rules, replacing the previous ones in one atomic batch: an inet table
// for routed traffic (between hosts) and a bridge table for traffic
// between containers on one bridge. Both hook forward and only drop: a
// destination that is not grouped is never looked at.
//
// # Imports
//
// internal/model (tasks, apps and their networks). Outside the project:
// google/nftables.
package isolate
