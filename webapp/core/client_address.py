"""The address a request comes from, believing proxies exactly as far as the deployment says.

Behind nginx every request connects from the proxy, so counting failed logins by the connecting address
would lock a user out for everyone. Each proxy appends the address it saw to X-Forwarded-For; with
TRUSTED_PROXY_HOPS proxies in front (compose and bin/serve: 1), the client is that many entries from
the right. Entries further left were written by the client itself and are never believed.
"""

import ipaddress

from django.conf import settings


def client_address(request) -> str:
    connecting = request.META.get("REMOTE_ADDR") or ""
    hops = settings.TRUSTED_PROXY_HOPS
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if hops <= 0 or not forwarded:
        return connecting  # no proxy in front, or a request that came past it
    # Fewer entries than hops: the request entered at an inner proxy, which wrote the leftmost one.
    candidate = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return connecting
