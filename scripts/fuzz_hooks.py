"""schemathesis hooks of scripts/fuzz-rest.sh (loaded through SCHEMATHESIS_HOOKS).

A WHIP offer (`POST /api/v1/rooms/{id}/whip`) is an `application/sdp` body: text, sent as
schemathesis sends `text/plain` (UTF-8).
"""

import schemathesis

schemathesis.serializer.alias("application/sdp", "text/plain")
