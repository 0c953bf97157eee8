"""``ctct broker``: access tokens for programs in any language, from a local endpoint.

A PHP site, a Node.js worker or a shell job asks the broker for a profile's access token
instead of refreshing on its own; behind the broker is ctct's single-flight, lease and
compare-and-swap refresh, so however many callers ask at the moment of expiry, the
token endpoint sees one refresh. Modelled on the credential endpoints other ecosystems
use (AWS's container credentials, the GCE metadata server): local only, a required
header so a browser page or an SSRF'd request cannot read it, and a policy of which
caller may read which profile.

- ``policy``: callers (a unix peer's uid/gid, or a TCP key's name) and what they may read;
- ``keys``: the bearer keys of TCP callers, from a 0600 file;
- ``peercred``: the unix socket peer's credentials (``SO_PEERCRED``) in the ASGI scope;
- ``source``: tokens per profile through ``TokenManager`` (``min_valid``, the 401 path);
- ``app``: the HTTP API (``GET /v1/token``);
- ``server``: listening on a unix socket or loopback TCP (TLS required off loopback);
- ``sink``: a file kept holding a valid access token, rewritten atomically.
"""
