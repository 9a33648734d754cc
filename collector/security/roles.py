"""Certificate roles: what the holder of a verified client certificate may call."""

from __future__ import annotations

import grpc

from estate.collector.security.certs import role_of

INGEST_ROLES = frozenset({"agent"})
# Sandboxed SQL on the snapshot: analysts only (never agents or GDS, which sees aggregates only).
QUERY_ROLES = frozenset({"analyst"})
# Taking snapshots on demand: the collector's own certificate (its operators).
ADMIN_ROLES = frozenset({"collector"})


def caller_role(context: grpc.ServicerContext) -> str:
    """The role in the caller's verified client certificate (its subject OU), '' without one."""
    pems = context.auth_context().get("x509_pem_cert") or []
    return role_of(pems[0]) if pems else ""
