/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket load-balancing map layouts, shared by the BPF programs and mirrored by
 * node-agent/Federation.NodeAgent/Datapath/LbMapLayout.cs. A test compares the C# structs
 * with this file's BTF (from the compiled object), so a change here that is not made there
 * fails the build's tests instead of corrupting maps silently.
 */
#ifndef FEDERATION_LB_MAPS_H
#define FEDERATION_LB_MAPS_H

#include <linux/types.h>

#define LB_SERVICE_MAP_SIZE 262144
#define LB_BACKEND_MAP_SIZE 131072
#define LB_REVNAT_MAP_SIZE 262144

/* lb_service_key.scope */
#define LB_SCOPE_EXTERNAL 0

/* Slot 0 is the master entry of a service; slots 1..count hold backend ids. */
struct lb_service_key {
	__be32 vip;
	__be16 port;
	__u16 slot;
	__u8 proto;	/* IPPROTO_TCP / IPPROTO_UDP */
	__u8 scope;
	__u8 pad[2];
};

/*
 * One value type for both kinds of entries, as Cilium does: the master entry uses count,
 * rev_nat_id and flags (backend_id = 0); a slot entry uses backend_id only.
 */
struct lb_service_value {
	__u32 backend_id;
	__u16 count;
	__u16 rev_nat_id;
	__u8 flags;
	__u8 pad[3];
};

/* lb_backend.state */
#define LB_BACKEND_ACTIVE 0

struct lb_backend {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 state;
	__u16 cluster_id;
	__u8 pad[2];
};

/*
 * Reverse translation of one socket (key: socket cookie). The backend the socket was sent to
 * is kept too, so that recvmsg/getpeername only rewrite addresses that really are that backend
 * (an unconnected UDP socket also talks to other peers).
 */
struct lb_revnat {
	__be32 vip;
	__be16 port;
	__u16 pad;
	__be32 backend_addr;
	__be16 backend_port;
	__u16 pad2;
};

/* Indexes into the per-CPU counter array. */
enum lb_counter {
	LB_COUNTER_TRANSLATIONS = 0,	/* connect/sendmsg rewritten to a backend */
	LB_COUNTER_BACKEND_MISSES = 1,	/* a service whose slot or backend entry was missing */
	LB_COUNTER_NO_BACKEND = 2,	/* rejected: service with no backends */
	LB_COUNTER_REVERSE = 3,		/* recvmsg/getpeername rewritten back to the VIP */
	LB_COUNTER_MAX = 4,
};

#endif
