// Package model is the cluster model every Sextant role reads: an immutable,
// versioned Snapshot of agents, frameworks, tasks and Marathon apps, merged
// by one pure function (Build) from the latest observation of each source.
//
// One job: say, once per change, what the cluster is — every derived fact a
// consumer needs (a task's addresses for every IP source, its ports by
// network mode, its merged health, whether it should serve traffic, the
// Marathon app behind it and that app's endpoints) is computed here, in the
// build, and never re-derived by a consumer.
//
// Inputs: Observations, one per source kind (MesosObservation from
// internal/source/mesos, MarathonObservation from internal/source/marathon).
// Sources translate their wire formats into the model's own types; no wire
// type of Mesos or Marathon appears here.
//
// Outputs: *Snapshot. A Snapshot is never modified after Build returns;
// consumers derive their own indexed views from it and swap them
// atomically. Items that cannot be used are skipped or degraded with a
// Problem naming the item, so one bad item never empties the cluster.
//
// Imports: the standard library only. Every other internal package may
// import model; model imports none of them.
package model
