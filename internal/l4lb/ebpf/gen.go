package ebpf

// The programs are compiled with clang (make generate-bpf); the object
// and its Go bindings are committed, so building needs no clang.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target bpfel -cc clang -type svc_key -type svc_val -type slot_key -type backend -type counters -type lpm_key sock bpf/sockl4lb.c
