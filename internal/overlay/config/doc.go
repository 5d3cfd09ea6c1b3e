// Package config reads and validates the overlay configuration of DC/OS:
// the dcos_overlay_* keys of config.yaml (given as JSON), the
// dcos_overlay_network object the master module is configured with, and
// the agent module's network_config. Every error names the key it is
// about ("overlays[1].subnet: …"), so an operator can find it.
//
// One bad overlay is skipped with a Problem naming it and the other
// overlays are kept; a bad network-wide key (vtep_subnet, vtep_mac_oui,
// vtep_mtu) fails the whole configuration, because every allocation
// depends on it.
//
// # Imports
//
// Only the standard library: the configuration is a leaf that the
// allocator, the agent and the wiring all read.
package config
