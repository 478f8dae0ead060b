// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Socket-level IPv4 service load balancing (connect4/sendmsg4, recvmsg4/getpeername4). */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "lb_maps.h"

#define ECONNREFUSED 111

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_SERVICE_MAP_SIZE);
	__type(key, struct lb_service_key);
	__type(value, struct lb_service_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb4_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_BACKEND_MAP_SIZE);
	__type(key, __u32);
	__type(value, struct lb_backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} lb4_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_REVNAT_MAP_SIZE);
	__type(key, __u64);
	__type(value, struct lb_revnat);
} lb4_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} lb4_counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&lb4_counters, &which);

	if (value)
		*value += 1;
}

/* Mixes the socket cookie so consecutive cookies do not map to consecutive slots. */
static __always_inline __u32 cookie_hash(__u64 cookie)
{
	cookie ^= cookie >> 33;
	cookie *= 0xff51afd7ed558ccdULL;
	cookie ^= cookie >> 33;
	return (__u32)cookie;
}

/* Returns 1 to let the call go on (translated or not a service), 0 to reject it. */
static __always_inline int translate(struct bpf_sock_addr *ctx, __u8 proto)
{
	struct lb_service_key key = {
		.vip = ctx->user_ip4,
		.port = (__be16)ctx->user_port,
		.slot = 0,
		.proto = proto,
		.scope = LB_SCOPE_EXTERNAL,
	};
	struct lb_service_value *master, *slot;
	struct lb_backend *backend;
	struct lb_revnat revnat = {};
	__u64 cookie;
	__u32 pick;

	master = bpf_map_lookup_elem(&lb4_services, &key);
	if (!master)
		return 1;

	if (master->count == 0) {
		count(LB_COUNTER_NO_BACKEND);
		/* Without this the kernel turns the rejection into EPERM. */
		bpf_set_retval(-ECONNREFUSED);
		return 0;
	}

	cookie = bpf_get_socket_cookie(ctx);
	if (proto == IPPROTO_TCP)
		pick = bpf_get_prandom_u32();
	else
		pick = cookie_hash(cookie);
	key.slot = (__u16)(pick % master->count) + 1;

	slot = bpf_map_lookup_elem(&lb4_services, &key);
	if (!slot) {
		count(LB_COUNTER_BACKEND_MISSES);
		return 1;
	}
	backend = bpf_map_lookup_elem(&lb4_backends, &slot->backend_id);
	if (!backend) {
		count(LB_COUNTER_BACKEND_MISSES);
		return 1;
	}

	revnat.vip = key.vip;
	revnat.port = key.port;
	revnat.backend_addr = backend->addr;
	revnat.backend_port = backend->port;
	bpf_map_update_elem(&lb4_revnat, &cookie, &revnat, BPF_ANY);

	ctx->user_ip4 = backend->addr;
	ctx->user_port = backend->port;
	count(LB_COUNTER_TRANSLATIONS);
	return 1;
}

static __always_inline __u8 sock_proto(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_TCP || ctx->protocol == IPPROTO_UDP)
		return (__u8)ctx->protocol;
	return 0;
}

SEC("cgroup/connect4")
int lb4_connect(struct bpf_sock_addr *ctx)
{
	__u8 proto = sock_proto(ctx);

	if (!proto)
		return 1;
	return translate(ctx, proto);
}

SEC("cgroup/sendmsg4")
int lb4_sendmsg(struct bpf_sock_addr *ctx)
{
	return translate(ctx, IPPROTO_UDP);
}

static __always_inline void reverse(struct bpf_sock_addr *ctx)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	struct lb_revnat *revnat = bpf_map_lookup_elem(&lb4_revnat, &cookie);

	if (!revnat)
		return;
	if (revnat->backend_addr != ctx->user_ip4 || revnat->backend_port != (__be16)ctx->user_port)
		return;
	ctx->user_ip4 = revnat->vip;
	ctx->user_port = revnat->port;
	count(LB_COUNTER_REVERSE);
}

SEC("cgroup/recvmsg4")
int lb4_recvmsg(struct bpf_sock_addr *ctx)
{
	reverse(ctx);
	return 1;
}

SEC("cgroup/getpeername4")
int lb4_getpeername(struct bpf_sock_addr *ctx)
{
	reverse(ctx);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
