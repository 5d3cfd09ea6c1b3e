// Socket-level VIP load balancing: cgroup sock_addr programs that send a
// connection to a backend at connect() (TCP, connected UDP) or at each
// sendmsg() (unconnected UDP), and make the application see the VIP as
// its peer (getpeername, recvmsg). No packet is ever rewritten, so there
// is no per-packet NAT and no conntrack entry.
//
// The maps are written by the Go side (package ebpf); see the comments
// there for who writes what. All addresses are 16 bytes: IPv4 as
// IPv4-mapped IPv6 (::ffff:a.b.c.d), so one service map serves both
// families and a dual-stack socket connecting to ::ffff:VIP finds it.

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "Dual BSD/GPL";

#define MODE_RANDOM 0
#define MODE_MAGLEV 1
#define MAGLEV_SIZE 65537
#define MAGLEV_SEED 0x53585401 /* balance.MaglevSeed */
#define AF_INET 2
#define AF_INET6 10

struct svc_key {
	__u8 addr[16];
	__u16 port; /* network order */
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 pad;
};

struct svc_val {
	__u32 id;    /* stable while the service exists: its counters */
	__u32 set;   /* the slot set now in use: slots[set, i] or maglev[set] */
	__u32 count; /* random: slots in the set; maglev: MAGLEV_SIZE; 0: refuse */
	__u8 mode;
	__u8 pad[3];
};

struct slot_key {
	__u32 set;
	__u32 slot;
};

struct backend {
	__u8 addr[16];
	__u16 port; /* network order */
	__u16 pad;
};

struct counters {
	__u64 conns;      /* flows sent to the backend */
	__u64 closed;     /* of those, sockets released */
	__u64 bytes_to;   /* payload bytes sent (TCP, at close) */
	__u64 bytes_from; /* payload bytes received (TCP, at close) */
	__u64 refused;    /* service: flows refused (no backend) */
	__u64 unconnected; /* of conns, unconnected UDP flows (no socket to close) */
};

/* What a socket connect() sent to a backend remembers. */
struct sock_state {
	__u8 vip[16];
	__u16 vip_port;
	__u16 pad;
	__u32 backend; /* backend id */
};

/* Unconnected UDP: a socket's flow to a VIP sticks to its backend. */
struct flow_key {
	__u64 cookie;
	__u8 addr[16];
	__u16 port;
	__u16 pad;
	__u32 pad2;
};

struct flow_val {
	__u32 backend;
	__u32 pad;
};

/* Unconnected UDP replies: (socket, backend) → the VIP it stands for. */
struct rev_val {
	__u8 addr[16];
	__u16 port;
	__u16 pad;
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct svc_key);
	__type(value, struct svc_val);
} services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct slot_key);
	__type(value, __u32);
} slots SEC(".maps");

/* mmapable: the Go side writes a whole table with one copy. */
struct maglev_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAGLEV_SIZE);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 512);
	__type(key, __u32);
	__array(values, struct maglev_table);
} maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 81920);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct counters);
} stats SEC(".maps");

/* VIP ranges: a destination inside one that no service holds is refused
 * at connect()/sendmsg(), never sent on (the ranges are public space). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} ranges SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_state);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct flow_key);
	__type(value, struct rev_val);
} revnat SEC(".maps");

/* The network namespace the plane serves (set at load; 0: every one).
 * cgroup programs see every namespace's sockets; a VIP means something
 * only in the namespace whose services the plane was given. */
volatile const __u64 netns_cookie = 0;

static __always_inline int foreign(struct bpf_sock_addr *ctx)
{
	return netns_cookie && bpf_get_netns_cookie(ctx) != netns_cookie;
}

/* The kernel's jhash (include/linux/jhash.h) for 4, 8 and 16 bytes,
 * as balance.JHash computes it. */
#define rol32(x, k) (((x) << (k)) | ((x) >> (32 - (k))))
#define jhash_mix(a, b, c)                  \
	do {                                \
		a -= c; a ^= rol32(c, 4);  c += b; \
		b -= a; b ^= rol32(a, 6);  a += c; \
		c -= b; c ^= rol32(b, 8);  b += a; \
		a -= c; a ^= rol32(c, 16); c += b; \
		b -= a; b ^= rol32(a, 19); a += c; \
		c -= b; c ^= rol32(b, 4);  b += a; \
	} while (0)
#define jhash_final(a, b, c)                \
	do {                                \
		c ^= b; c -= rol32(b, 14);  \
		a ^= c; a -= rol32(c, 11);  \
		b ^= a; b -= rol32(a, 25);  \
		c ^= b; c -= rol32(b, 16);  \
		a ^= c; a -= rol32(c, 4);   \
		b ^= a; b -= rol32(a, 14);  \
		c ^= b; c -= rol32(b, 24);  \
	} while (0)

/* w are the key's little-endian 32-bit words (the bytes as in memory). */
static __always_inline __u32 jhash_words(const __u32 *w, __u32 n)
{
	__u32 a, b, c;
	a = b = c = 0xdeadbeef + n * 4 + MAGLEV_SEED;
	if (n == 4) {
		a += w[0]; b += w[1]; c += w[2];
		jhash_mix(a, b, c);
		a += w[3];
	} else if (n == 2) {
		a += w[0]; b += w[1];
	} else {
		a += w[0];
	}
	jhash_final(a, b, c);
	return c;
}

static __always_inline __u32 reciprocal_scale(__u32 h, __u32 n)
{
	return (__u32)(((__u64)h * n) >> 32);
}

static __always_inline int same16(const __u8 *x, const __u8 *y)
{
	const __u32 *a = (const __u32 *)x, *b = (const __u32 *)y;
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline int is_v4mapped(const __u32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0xffff);
}

/* maglev_slot hashes the client: its source address when the socket (or
 * the message) has one, as balance.MaglevSlot does; before the kernel
 * has chosen a source (an unbound socket at connect()), the network
 * namespace cookie, so a host or container keeps its backend as a client
 * address would. */
static __always_inline __u32 maglev_slot(struct bpf_sock_addr *ctx, __u32 src4, const __u32 *src6, int v6)
{
	__u32 w[4];
	if (v6 && (src6[0] | src6[1] | src6[2] | src6[3])) {
		if (is_v4mapped(src6)) {
			w[0] = src6[3];
			return reciprocal_scale(jhash_words(w, 1), MAGLEV_SIZE);
		}
		w[0] = src6[0]; w[1] = src6[1]; w[2] = src6[2]; w[3] = src6[3];
		return reciprocal_scale(jhash_words(w, 4), MAGLEV_SIZE);
	}
	if (!v6 && src4) {
		w[0] = src4;
		return reciprocal_scale(jhash_words(w, 1), MAGLEV_SIZE);
	}
	__u64 ns = bpf_get_netns_cookie(ctx);
	w[0] = (__u32)ns;
	w[1] = (__u32)(ns >> 32);
	return reciprocal_scale(jhash_words(w, 2), MAGLEV_SIZE);
}

enum event { CONN, REFUSED, FLOW };

static __always_inline void count(__u32 id, enum event ev)
{
	struct counters *c = bpf_map_lookup_elem(&stats, &id);
	if (!c) {
		struct counters z = {};
		bpf_map_update_elem(&stats, &id, &z, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&stats, &id);
		if (!c)
			return;
	}
	switch (ev) {
	case REFUSED:
		c->refused++;
		break;
	case FLOW:
		c->unconnected++;
		/* fallthrough */
	default:
		c->conns++;
	}
}

enum verdict { PASS, REWRITE, REFUSE };

static __always_inline int in_ranges(const __u8 *addr)
{
	struct lpm_key k = { .prefixlen = 128 };
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&ranges, &k) != NULL;
}

/* pick chooses the backend of a new flow to key; *id is its backend id. */
static __always_inline enum verdict pick(struct bpf_sock_addr *ctx, struct svc_key *key, __u32 src4,
					 const __u32 *src6, int v6, __u32 *id, struct backend **be)
{
	struct svc_val *svc = bpf_map_lookup_elem(&services, key);
	if (!svc)
		return in_ranges(key->addr) ? REFUSE : PASS;
	if (svc->count == 0) {
		count(svc->id, REFUSED);
		return REFUSE;
	}
	__u32 *bid = NULL;
	if (svc->mode == MODE_MAGLEV) {
		void *table = bpf_map_lookup_elem(&maglev, &svc->set);
		if (table) {
			__u32 slot = maglev_slot(ctx, src4, src6, v6);
			bid = bpf_map_lookup_elem(table, &slot);
		}
	} else {
		struct slot_key sk = { .set = svc->set, .slot = bpf_get_prandom_u32() % svc->count };
		bid = bpf_map_lookup_elem(&slots, &sk);
	}
	if (!bid) {
		count(svc->id, REFUSED);
		return REFUSE;
	}
	*id = *bid;
	*be = bpf_map_lookup_elem(&backends, bid);
	if (!*be) {
		count(svc->id, REFUSED);
		return REFUSE;
	}
	return REWRITE;
}

static __always_inline void key4(struct svc_key *k, __u32 ip, __u32 port, __u32 proto)
{
	__u32 *a = (__u32 *)k->addr;
	a[0] = 0; a[1] = 0; a[2] = bpf_htonl(0xffff); a[3] = ip;
	k->port = (__u16)port;
	k->proto = (__u8)proto;
	k->pad = 0;
}

static __always_inline void key6(struct svc_key *k, struct bpf_sock_addr *ctx, __u32 proto)
{
	__u32 *a = (__u32 *)k->addr;
	a[0] = ctx->user_ip6[0]; a[1] = ctx->user_ip6[1];
	a[2] = ctx->user_ip6[2]; a[3] = ctx->user_ip6[3];
	k->port = (__u16)ctx->user_port;
	k->proto = (__u8)proto;
	k->pad = 0;
}

static __always_inline void closed(__u32 id)
{
	struct counters *c = bpf_map_lookup_elem(&stats, &id);
	if (c)
		c->closed++;
}

static __always_inline void remember(struct bpf_sock_addr *ctx, struct svc_key *k, __u32 id)
{
	struct sock_state *st = bpf_sk_storage_get(&socks, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	if (st->backend) /* a UDP socket connected again: its last flow ends */
		closed(st->backend);
	__builtin_memcpy(st->vip, k->addr, 16);
	st->vip_port = k->port;
	st->backend = id;
}

static __always_inline int write4(struct bpf_sock_addr *ctx, struct backend *be)
{
	__u32 *a = (__u32 *)be->addr;
	if (!is_v4mapped(a))
		return 0; /* an IPv6 backend cannot serve an IPv4 socket */
	ctx->user_ip4 = a[3];
	ctx->user_port = be->port;
	return 1;
}

static __always_inline void write6(struct bpf_sock_addr *ctx, struct backend *be)
{
	__u32 *a = (__u32 *)be->addr;
	ctx->user_ip6[0] = a[0]; ctx->user_ip6[1] = a[1];
	ctx->user_ip6[2] = a[2]; ctx->user_ip6[3] = a[3];
	ctx->user_port = be->port;
}

/* forget: a UDP socket connected again to an address that is not a VIP
 * is no VIP's any more (a TCP socket connects once). */
static __always_inline void forget(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_UDP)
		return;
	struct sock_state *st = bpf_sk_storage_get(&socks, ctx->sk, 0, 0);
	if (!st)
		return;
	closed(st->backend);
	bpf_sk_storage_delete(&socks, ctx->sk);
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	if (foreign(ctx))
		return 1;
	struct svc_key k;
	key4(&k, ctx->user_ip4, ctx->user_port, ctx->protocol);
	struct bpf_sock *sk = ctx->sk;
	__u32 src4 = sk ? sk->src_ip4 : 0;
	__u32 id = 0;
	struct backend *be = NULL;
	switch (pick(ctx, &k, src4, NULL, 0, &id, &be)) {
	case PASS:
		forget(ctx);
		return 1;
	case REFUSE:
		return 0;
	default:
		break;
	}
	if (!write4(ctx, be))
		return 0;
	count(id, CONN);
	remember(ctx, &k, id);
	return 1;
}

SEC("cgroup/connect6")
int sock6_connect(struct bpf_sock_addr *ctx)
{
	if (foreign(ctx))
		return 1;
	struct svc_key k;
	key6(&k, ctx, ctx->protocol);
	__u32 src6[4] = {};
	struct bpf_sock *sk = ctx->sk;
	if (sk) {
		src6[0] = sk->src_ip6[0]; src6[1] = sk->src_ip6[1];
		src6[2] = sk->src_ip6[2]; src6[3] = sk->src_ip6[3];
	}
	__u32 id = 0;
	struct backend *be = NULL;
	switch (pick(ctx, &k, 0, src6, 1, &id, &be)) {
	case PASS:
		forget(ctx);
		return 1;
	case REFUSE:
		return 0;
	default:
		break;
	}
	write6(ctx, be);
	count(id, CONN);
	remember(ctx, &k, id);
	return 1;
}

/* udp_pick is pick for unconnected UDP: a socket's datagrams to a VIP
 * keep the backend its first one got while that backend exists. */
static __always_inline enum verdict udp_pick(struct bpf_sock_addr *ctx, struct svc_key *k, __u32 src4,
					     const __u32 *src6, int v6, struct backend **be)
{
	struct flow_key fk = { .cookie = bpf_get_socket_cookie(ctx), .port = k->port };
	__builtin_memcpy(fk.addr, k->addr, 16);
	struct flow_val *fv = bpf_map_lookup_elem(&flows, &fk);
	if (fv) {
		*be = bpf_map_lookup_elem(&backends, &fv->backend);
		if (*be && bpf_map_lookup_elem(&services, k))
			return REWRITE;
	}
	__u32 id = 0;
	enum verdict v = pick(ctx, k, src4, src6, v6, &id, be);
	if (v != REWRITE)
		return v;
	struct flow_val nv = { .backend = id };
	bpf_map_update_elem(&flows, &fk, &nv, BPF_ANY);
	struct flow_key rk = { .cookie = fk.cookie, .port = (*be)->port };
	__builtin_memcpy(rk.addr, (*be)->addr, 16);
	struct rev_val rv = { .port = k->port };
	__builtin_memcpy(rv.addr, k->addr, 16);
	bpf_map_update_elem(&revnat, &rk, &rv, BPF_ANY);
	count(id, FLOW);
	return REWRITE;
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	if (foreign(ctx))
		return 1;
	struct svc_key k;
	key4(&k, ctx->user_ip4, ctx->user_port, IPPROTO_UDP);
	__u32 src4 = ctx->msg_src_ip4;
	struct bpf_sock *sk = ctx->sk;
	if (!src4 && sk)
		src4 = sk->src_ip4;
	struct backend *be = NULL;
	switch (udp_pick(ctx, &k, src4, NULL, 0, &be)) {
	case PASS:
		return 1;
	case REFUSE:
		return 0;
	default:
		break;
	}
	return write4(ctx, be);
}

SEC("cgroup/sendmsg6")
int sock6_sendmsg(struct bpf_sock_addr *ctx)
{
	if (foreign(ctx))
		return 1;
	struct svc_key k;
	key6(&k, ctx, IPPROTO_UDP);
	__u32 src6[4] = { ctx->msg_src_ip6[0], ctx->msg_src_ip6[1], ctx->msg_src_ip6[2], ctx->msg_src_ip6[3] };
	struct bpf_sock *sk = ctx->sk;
	if (!(src6[0] | src6[1] | src6[2] | src6[3]) && sk) {
		src6[0] = sk->src_ip6[0]; src6[1] = sk->src_ip6[1];
		src6[2] = sk->src_ip6[2]; src6[3] = sk->src_ip6[3];
	}
	struct backend *be = NULL;
	switch (udp_pick(ctx, &k, 0, src6, 1, &be)) {
	case PASS:
		return 1;
	case REFUSE:
		return 0;
	default:
		break;
	}
	write6(ctx, be);
	return 1;
}

/* unnat finds the VIP a reply's source (a backend) stands for. */
static __always_inline struct rev_val *unnat(struct bpf_sock_addr *ctx, const __u8 *addr, __u16 port)
{
	struct flow_key rk = { .cookie = bpf_get_socket_cookie(ctx), .port = port };
	__builtin_memcpy(rk.addr, addr, 16);
	return bpf_map_lookup_elem(&revnat, &rk);
}

/* peer returns what connect() remembered of a socket whose peer is the
 * backend it chose. */
static __always_inline struct sock_state *peer(struct bpf_sock_addr *ctx)
{
	return bpf_sk_storage_get(&socks, ctx->sk, 0, 0);
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	struct svc_key k;
	key4(&k, ctx->user_ip4, ctx->user_port, IPPROTO_UDP);
	struct rev_val *rv = unnat(ctx, k.addr, k.port);
	if (rv) {
		ctx->user_ip4 = ((__u32 *)rv->addr)[3];
		ctx->user_port = rv->port;
		return 1;
	}
	struct sock_state *st = peer(ctx);
	if (st) {
		struct backend *be = bpf_map_lookup_elem(&backends, &st->backend);
		if (be && be->port == k.port && ((__u32 *)be->addr)[3] == ctx->user_ip4) {
			ctx->user_ip4 = ((__u32 *)st->vip)[3];
			ctx->user_port = st->vip_port;
		}
	}
	return 1;
}

SEC("cgroup/recvmsg6")
int sock6_recvmsg(struct bpf_sock_addr *ctx)
{
	struct svc_key k;
	key6(&k, ctx, IPPROTO_UDP);
	struct rev_val *rv = unnat(ctx, k.addr, k.port);
	if (rv) {
		__u32 *a = (__u32 *)rv->addr;
		ctx->user_ip6[0] = a[0]; ctx->user_ip6[1] = a[1];
		ctx->user_ip6[2] = a[2]; ctx->user_ip6[3] = a[3];
		ctx->user_port = rv->port;
		return 1;
	}
	struct sock_state *st = peer(ctx);
	if (st) {
		struct backend *be = bpf_map_lookup_elem(&backends, &st->backend);
		if (be && be->port == k.port && same16(be->addr, k.addr)) {
			__u32 *a = (__u32 *)st->vip;
			ctx->user_ip6[0] = a[0]; ctx->user_ip6[1] = a[1];
			ctx->user_ip6[2] = a[2]; ctx->user_ip6[3] = a[3];
			ctx->user_port = st->vip_port;
		}
	}
	return 1;
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	struct sock_state *st = peer(ctx);
	if (st) {
		ctx->user_ip4 = ((__u32 *)st->vip)[3];
		ctx->user_port = st->vip_port;
	}
	return 1;
}

SEC("cgroup/getpeername6")
int sock6_getpeername(struct bpf_sock_addr *ctx)
{
	struct sock_state *st = peer(ctx);
	if (st) {
		__u32 *a = (__u32 *)st->vip;
		ctx->user_ip6[0] = a[0]; ctx->user_ip6[1] = a[1];
		ctx->user_ip6[2] = a[2]; ctx->user_ip6[3] = a[3];
		ctx->user_port = st->vip_port;
	}
	return 1;
}

/* Byte counters, without a per-packet hook: a TCP socket connect() sent
 * to a backend asks for state callbacks (only those sockets do), and
 * when it closes its payload bytes acked and received (RFC 4898's
 * HCThruOctetsAcked and HCThruOctetsReceived) are added to its backend.
 * Bytes of an open connection show when it ends. */
SEC("sockops")
int sock_ops(struct bpf_sock_ops *ops)
{
	struct bpf_sock *sk = ops->sk;
	if (!sk)
		return 1;
	switch (ops->op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		if (bpf_sk_storage_get(&socks, sk, 0, 0))
			bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (ops->args[1] == BPF_TCP_CLOSE) {
			struct sock_state *st = bpf_sk_storage_get(&socks, sk, 0, 0);
			if (!st)
				break;
			__u32 id = st->backend;
			struct counters *c = bpf_map_lookup_elem(&stats, &id);
			if (c) {
				c->bytes_to += ops->bytes_acked;
				c->bytes_from += ops->bytes_received;
			}
		}
		break;
	}
	return 1;
}

/* A socket connect() sent to a backend is released: one open flow less. */
SEC("cgroup/sock_release")
int sock_release(struct bpf_sock *sk)
{
	struct sock_state *st = bpf_sk_storage_get(&socks, sk, 0, 0);
	if (!st)
		return 1;
	closed(st->backend);
	return 1;
}
