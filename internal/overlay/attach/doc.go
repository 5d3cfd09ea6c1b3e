// Package attach puts a container's network namespace on an overlay
// bridge: a veth pair whose host end joins the bridge (m-<name>) and whose
// other end becomes the container's eth0, with its overlay address and a
// default route via the bridge's gateway. It does directly, over netlink,
// what the CNI bridge plugin does (no plugin binaries are needed, and an
// attach costs a few netlink round trips instead of a process), and IPAM
// hands out addresses of the bridge's half of the agent's block the way
// host-local does: the lowest free, the gateway and broadcast excluded,
// persisted one file per address so a restart keeps what was given.
//
// # Imports
//
// Nothing from the project. Outside it: vishvananda/netlink and netns.
package attach
